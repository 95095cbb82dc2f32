"""The single-dash front: chiptool/warptool/difftool/pstamptool recipes over the ops library."""
