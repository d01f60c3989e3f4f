//! The dense ids the engine hands out: field paths, machine states, array elements.

/// Dense id of a field path named by some rule (given by the path index, `paths.rs`).
pub(crate) type PathId = u32;

/// Index of a machine state (`machine.rs`); the operators' indexes map values to them.
pub(crate) type StateId = u32;

/// `(array id, element index)`: one level of array nesting above a leaf of an event.
pub(crate) type Membership = (u32, u32);
