"""Data shipped with the package: the GPU catalog (gpus.toml)."""
