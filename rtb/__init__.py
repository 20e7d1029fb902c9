"""The `rtb` command line: the top of the import chain (rtb -> simulator -> bidder -> optimizer)."""
