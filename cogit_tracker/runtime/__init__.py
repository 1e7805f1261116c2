"""A campaign in flight: its campaign and phase runs, how they end, the monitor that keeps
them honest, the MLflow context provider, liveness (list and reap), and the registry of
experiments that `cogit-log run` starts."""
