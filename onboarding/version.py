"""The release: in captured errors, the OpenAPI document and page footers."""

__version__ = "0.1.0"
