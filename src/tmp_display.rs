//! TEMPORARY until the syntax branch lands.
impl std::fmt::Display for crate::criteria::Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
