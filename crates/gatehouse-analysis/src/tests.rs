//! Hand-made cases for every rule.
