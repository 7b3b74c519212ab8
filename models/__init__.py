"""Forecasters and detectors, one family a module."""
