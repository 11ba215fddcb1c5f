"""Running a sync: pipeline config, the stages in order, one Singer pipe, the run lock, the demo."""
