"""proofs: the simulation theorem, constructed, checked numerically and proved symbolically.

A ScaleGMN built from the library's own modules, with hand-chosen parameters,
reproduces the forward pass (L steps) of any MLP or CNN it reads and, bidirectional,
the backward pass (2L steps) of any MLP.
"""

from proofs._construct import ChannelPlan, GradientReadout, LossCoefficients, construct, probe_graph
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
