"""Hardware probe and capacity (arrives with the GPU-aware issue)."""
