"""ranvier.nn.utils: gradient clipping and parameter <-> vector conversion."""
from ranvier.nn.utils.clip_grad import (clip_grad_norm_, clip_grad_norm, clip_grad_value_,  # noqa
                                        get_total_norm, clip_grads_with_norm_)
from ranvier.nn.utils.convert_parameters import (parameters_to_vector,  # noqa: F401
                                                 vector_to_parameters)
from ranvier.nn.utils import rnn  # noqa: F401
