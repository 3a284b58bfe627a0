"""Analysis helpers: analytic FLOP counts of a SimVTP training step."""
from .flops import (PARTS, StepShapes, attention_flops, matmul_flops,
                    shapes_from_model, simvtp_step_flops,
                    transformer_flops)

__all__ = ['PARTS', 'StepShapes', 'attention_flops', 'matmul_flops',
           'shapes_from_model', 'simvtp_step_flops', 'transformer_flops']
