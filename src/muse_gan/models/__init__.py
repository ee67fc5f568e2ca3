"""Plain ``nn.Module``s sized from an adapter's Spec and the model config; no training logic."""
