"""Near-equivalence metrics for trained, approximately equivalent predictors (docs/theory.md §8).

One module per metric; this file only re-exports.
"""

from ._angles import WHICH as WHICH
from ._angles import PrincipalAngles as PrincipalAngles
from ._angles import principal_angles as principal_angles
from ._canonical_fit import CanonicalFit as CanonicalFit
from ._canonical_fit import canonical_fit as canonical_fit
from ._causal import CausalInnerProduct as CausalInnerProduct
from ._causal import causal_inner_product as causal_inner_product
from ._cca import CCAResult as CCAResult
from ._cca import cca as cca
from ._cca import cca_kernel as cca_kernel
from ._cca import mean_cca as mean_cca
from ._dllv import DLLV as DLLV
from ._dllv import d_llv as d_llv
from ._dllv import legacy_numpy_input_sets as legacy_numpy_input_sets
from ._llv import MSVD as MSVD
from ._llv import m_svd as m_svd
from ._llv import msvd_embedding as msvd_embedding
from ._logit import d_logit as d_logit
from ._pivot_odds import PivotLogOddsDistance as PivotLogOddsDistance
from ._pivot_odds import pivot_log_odds_distance as pivot_log_odds_distance
from ._rep import DRep as DRep
from ._rep import d_rep as d_rep
from ._rep import rep_kernel as rep_kernel
