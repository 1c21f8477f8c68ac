"""ranvier.nn.utils: gradient clipping, parameter <-> vector conversion, weight/spectral
normalisation (hook form) and parametrisations."""
from ranvier.nn.utils.clip_grad import (clip_grad_norm_, clip_grad_norm, clip_grad_value_,  # noqa
                                        get_total_norm, clip_grads_with_norm_)
from ranvier.nn.utils.convert_parameters import (parameters_to_vector,  # noqa: F401
                                                 vector_to_parameters)
from ranvier.nn.utils import rnn  # noqa: F401
from ranvier.nn.utils.weight_norm import weight_norm, remove_weight_norm  # noqa: F401
from ranvier.nn.utils.spectral_norm import spectral_norm, remove_spectral_norm  # noqa: F401
from ranvier.nn.utils import parametrize, parametrizations  # noqa: F401
