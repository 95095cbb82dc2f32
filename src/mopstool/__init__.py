"""mopstool: one command for the nightly operations of the PSNSC MOPS products."""

__version__ = "0.1.0"
