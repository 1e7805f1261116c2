"""The machine a run pays for: its hardware (NVML, psutil), the GPU catalog and the user's
cogit.toml, the hourly rate and what a duration costs, and the environment a campaign records."""
