"""SalesSphere domain library: one model, one identity rule, shared by every service."""

__version__ = "0.1.0"
