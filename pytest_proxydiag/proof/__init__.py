"""Proven fixes: real clients run before and after each fix, and the fix script."""
