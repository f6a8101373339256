"""traitkg's version: recorded in every manifest entry as the loader version."""

__version__ = "0.1.0"
