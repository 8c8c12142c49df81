"""symm: derive, prove and use the symmetries of neural-network weights."""

from symm._character import IDENTITY, TRIVIAL, Character, character_of
from symm._symbols import DeriveError, a, x
from symm._activation import Activation, get_activation, register_activation, registry_names
from symm._certificate import Certificate, CertificateError, Counterexample, IdentityStep
from symm._translation import K as translation_k
from symm._translation import SHIFT as translation_t
from symm._translation import TranslationCertificate, TranslationSymmetry
from symm._derive import ActivationSymmetry, derive
from symm._group_element import GroupElement
from symm._weight_space import NeuronFeatures, WeightSpace
from symm._report import VerificationReport
from symm._canonicalise import (
    SYMMETRIES,
    CanonicaliseError,
    canonical_element,
    canonicalise,
    canonicalise_batch,
)
from symm._verify import (
    Fixed,
    assert_equivariant,
    assert_function_preserved,
    check_equivariance,
    check_function_preserved,
    sample_elements,
)

__version__ = "0.1.0"
