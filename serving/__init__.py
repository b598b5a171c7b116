"""Segue: prompted playlists and music search on Ray Serve."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segue")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"
