"""What the SMT solver (z3) answers about policies: an encoding of a checked policy's
decision as of an instant over a symbolic lead (:mod:`.encode`), used by `mqldsl diff
--witness` (a lead two versions decide differently, or a proof that none exists within
stated bounds; docs/witness.md)."""
