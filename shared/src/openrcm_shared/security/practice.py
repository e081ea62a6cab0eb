"""Route parameter types: the practice a request acts for, once its caller holds the scope.

    async def get_claim(claim_id: UUID, request: Request, tenant_id: ClaimsRead) -> ClaimOut: ...

Each is `requires(scope)` (security.authorization): the bearer token verified, the scope checked
(OpenAPI shows it per operation), the practice selected and bound for the database and the audit log.
"""

from __future__ import annotations

from openrcm_shared.security.authorization import caller_requiring, requires
from openrcm_shared.security.scopes import Scope

ClaimsWrite = requires(Scope.CLAIMS_WRITE)
ClaimsRead = requires(Scope.CLAIMS_READ)
EligibilityWrite = requires(Scope.ELIGIBILITY_WRITE)
EligibilityRead = requires(Scope.ELIGIBILITY_READ)
RemittanceWrite = requires(Scope.REMITTANCE_WRITE)
RemittanceRead = requires(Scope.REMITTANCE_READ)
DenialsWork = requires(Scope.DENIALS_WORK)
CollectionsWork = requires(Scope.COLLECTIONS_WORK)
PaymentsWrite = requires(Scope.PAYMENTS_WRITE)
ReferenceAdmin = requires(Scope.REFERENCE_ADMIN)
CodeSetsAdmin = requires(Scope.CODESETS_ADMIN)  # data of every practice: see scopes.PLATFORM_SCOPES
AuditRead = requires(Scope.AUDIT_READ)

# The whole caller (its `actor`, the token's sub, is recorded on a person's decisions).
RemittanceWriter = caller_requiring(Scope.REMITTANCE_WRITE)
DenialsWorker = caller_requiring(Scope.DENIALS_WORK)
CollectionsWorker = caller_requiring(Scope.COLLECTIONS_WORK)
