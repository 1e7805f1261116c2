"""Before and beyond a run: will it fit (the memory planner and where the operators go), and
what would a measured campaign take and cost on another GPU (projection)."""
