"""Where runs are kept: store URIs, the one paginating search, write ops and the background
writer with its spool, copying between stores, and the shared `mlflow server`."""
