mopstool revert warp --id 1400060 --yes
mopstool fixbroken --chip-id 1600109 --yes
mopstool revert diff --id 1300062 --yes
mopstool revert chip --id 1600095 --yes
mopstool diffpairs --define --desperate --ws --night 2018-07-10 --yes
mopstool publish --night 2018-07-10 --yes
