"""The package version, in one place (the pool user agent and the API report it)."""

VERSION = "0.1.0"
