"""What this machine holds outside the process: shell profiles and other configuration files."""
