//! One release build of every function (a helper fills this in).
