"""HTJ2K codec plugin for medcodec."""

__version__ = "0.1.0"
