"""The policy history store, its import and export, and the trajectory."""
