"""Mimic: train a model of your own face and drive an avatar with it, in the browser."""
