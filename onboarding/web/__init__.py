"""What every page shares: htmx helpers, safe redirects, security headers, error pages.

This package imports no feature package.
"""
