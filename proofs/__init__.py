"""proofs: the simulation theorem, constructed, checked numerically and proved symbolically.

A ScaleGMN built from the library's own modules, with hand-chosen parameters,
reproduces the forward pass (L steps) and, bidirectional, the backward pass (2L
steps) of any network it reads.
"""

from proofs._construct import GradientReadout, LossCoefficients, construct, probe_graph
from proofs._simulate import (
    BackwardSimulation,
    grad_errors,
    layer_errors,
    loss_coefficients,
    mse,
    reference_backward,
    reference_forward,
    relative_error,
    simulate_backward,
    simulate_forward,
)
