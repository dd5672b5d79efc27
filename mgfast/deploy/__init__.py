"""Deployment: a trained run's network as a standalone ONNX file, and an engine that scores with it.

:func:`mgfast.deploy.network.load_run_network` builds a run's network from its checkpoint (in eval mode) and
states the exact input it takes; :mod:`mgfast.deploy.onnx` exports that network's logits to ONNX and runs
the file with ONNX Runtime. The heatmap branch's volume is rendered outside the graph (by
:func:`mgfast.ops.render_heatmaps`, as in training), so both engines take the same tensor.
"""
