"""Importers for face-capture data recorded outside Mimic's studio."""

from mimic.io.livelink import read_livelink

__all__ = ["read_livelink"]
