"""Renderers: one module per output format, all behind `base.Renderer`."""
