//! The `numeric` operator: how its ranges are read (`=`, `>`, `>=`, `<`, `<=`, one bound
//! or a lower and an upper one), how a number is compared, and the index (an interval
//! tree over the ranges).

use std::sync::OnceLock;

use serde_json::Value;

use crate::error::PatternError;
use crate::ids::StateId;
use crate::place::{Place, comparable_number};

/// A numeric interval; `=` is a closed interval of one point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumericRange {
    /// Lower bound and whether it is inclusive.
    pub(crate) lower: Option<(f64, bool)>,
    /// Upper bound and whether it is inclusive.
    pub(crate) upper: Option<(f64, bool)>,
}

impl NumericRange {
    /// Whether the number lies in the range.
    pub(crate) fn contains(&self, n: f64) -> bool {
        let above = match self.lower {
            Some((low, true)) => n >= low,
            Some((low, false)) => n > low,
            None => true,
        };
        let below = match self.upper {
            Some((high, true)) => n <= high,
            Some((high, false)) => n < high,
            None => true,
        };
        above && below
    }

    /// Whether the range has a point within the inclusive `[minimum, maximum]` (used to
    /// reason about patterns without an event, `analysis.rs`).
    pub(crate) fn meets_interval(&self, minimum: Option<f64>, maximum: Option<f64>) -> bool {
        let below_max = match (self.lower, maximum) {
            (Some((low, true)), Some(max)) => low <= max,
            (Some((low, false)), Some(max)) => low < max,
            _ => true,
        };
        let above_min = match (self.upper, minimum) {
            (Some((high, true)), Some(min)) => high >= min,
            (Some((high, false)), Some(min)) => high > min,
            _ => true,
        };
        below_max && above_min
    }

    /// Whether two ranges share a point.
    pub(crate) fn meets(&self, other: &NumericRange) -> bool {
        let (a, b) = (self, other);
        let lower = match (a.lower, b.lower) {
            (Some(x), Some(y)) => Some(if x.0 > y.0 || (x.0 == y.0 && !x.1) {
                x
            } else {
                y
            }),
            (x, y) => x.or(y),
        };
        let upper = match (a.upper, b.upper) {
            (Some(x), Some(y)) => Some(if x.0 < y.0 || (x.0 == y.0 && !x.1) {
                x
            } else {
                y
            }),
            (x, y) => x.or(y),
        };
        match (lower, upper) {
            (Some((low, low_in)), Some((high, high_in))) => {
                low < high || (low == high && low_in && high_in)
            }
            _ => true,
        }
    }
}

/// `{"numeric": [...]}`: one bound, or a lower bound and an upper one.
pub(crate) fn parse(operand: &Value, place: &Place) -> Result<NumericRange, PatternError> {
    const SHAPE: &str = "numeric expects an operator followed by a number";
    let Value::Array(terms) = operand else {
        return Err(place.error(format!("{SHAPE}, e.g. [\">\", 0, \"<=\", 5]")));
    };
    let pair = |index: usize| -> Result<(&str, f64), PatternError> {
        let operator = terms.get(index).and_then(Value::as_str);
        let value = terms.get(index + 1).and_then(Value::as_number);
        match (operator, value) {
            (Some(op), Some(n)) => Ok((op, comparable_number(n, place)?)),
            _ => Err(place.error(SHAPE)),
        }
    };
    let (first_op, first) = pair(0)?;
    let mut range = NumericRange {
        lower: None,
        upper: None,
    };
    match first_op {
        "=" => {
            range.lower = Some((first, true));
            range.upper = Some((first, true));
        }
        ">" | ">=" => range.lower = Some((first, first_op == ">=")),
        "<" | "<=" => range.upper = Some((first, first_op == "<=")),
        other => return Err(place.error(format!("numeric: unknown operator \"{other}\""))),
    }
    match terms.len() {
        2 => {
            // event-ruler cannot build a one-sided range that starts at the largest double
            // or ends at the lowest one (its rule compiler fails on them).
            if first_op != "="
                && (range.lower.is_some_and(|(n, _)| n == f64::MAX)
                    || range.upper.is_some_and(|(n, _)| n == -f64::MAX))
            {
                return Err(place.error(
                    "numeric: nothing lies beyond the largest double; compare with \"=\" instead",
                ));
            }
            Ok(range)
        }
        4 => {
            let (second_op, second) = pair(2)?;
            if range.upper.is_some() || !matches!(second_op, "<" | "<=") {
                return Err(place.error(
                    "numeric range must be a lower bound (> or >=) followed by an upper bound (< or <=)",
                ));
            }
            if second <= first {
                return Err(
                    place.error("numeric range: the lower bound must be below the upper bound")
                );
            }
            range.upper = Some((second, second_op == "<="));
            Ok(range)
        }
        _ => Err(place.error(format!("{SHAPE} (one bound) or two such pairs (a range)"))),
    }
}

/// `numeric` ranges: a centred interval tree over the ranges that hold some double.
#[derive(Debug, Clone, Default)]
pub(crate) struct NumericIndex {
    /// Range (zero bounds written as `+0.0`), a double inside it, next state.
    ranges: Vec<(NumericRange, f64, StateId)>,
    tree: OnceLock<IntervalTree>,
}

#[derive(Debug, Clone, Default)]
struct IntervalTree {
    nodes: Vec<IntervalNode>,
    root: Option<u32>,
    /// When every range has a lower bound and no two share a double (rules naming
    /// consecutive bands): each range's smallest double and its position, ascending. A
    /// number is then looked up with one binary search instead of walking the tree.
    disjoint: Option<Vec<(f64, u32)>>,
}

/// The ranges holding `center`, sorted so that the ones admitting a number below (above)
/// the centre come first in `by_lower` (`by_upper`); the ranges wholly below and above.
#[derive(Debug, Clone)]
struct IntervalNode {
    center: f64,
    by_lower: Vec<u32>,
    by_upper: Vec<u32>,
    below: Option<u32>,
    above: Option<u32>,
}

impl NumericIndex {
    pub(crate) fn insert(&mut self, range: &NumericRange, next: StateId) {
        let positive_zero =
            |(bound, inclusive): (f64, bool)| (if bound == 0.0 { 0.0 } else { bound }, inclusive);
        let range = NumericRange {
            lower: range.lower.map(positive_zero),
            upper: range.upper.map(positive_zero),
        };
        // A range holding no double matches no event.
        if let Some(witness) = witness(&range) {
            self.ranges.push((range, witness, next));
            self.tree = OnceLock::new();
        }
    }

    pub(crate) fn collect(&self, n: f64, out: &mut Vec<StateId>) {
        if self.ranges.is_empty() || n.is_nan() {
            return;
        }
        let tree = self.tree.get_or_init(|| IntervalTree::build(&self.ranges));
        let next_of = |i: u32| self.ranges[i as usize].2;
        if let Some(sorted) = &tree.disjoint {
            // Only the range with the greatest smallest double at or below `n` can hold it.
            let at = sorted.partition_point(|&(least, _)| least <= n);
            if let Some(&(_, i)) = at.checked_sub(1).and_then(|k| sorted.get(k))
                && self.ranges[i as usize].0.contains(n)
            {
                out.push(next_of(i));
            }
            return;
        }
        let mut at = tree.root;
        while let Some(node) = at.and_then(|i| tree.nodes.get(i as usize)) {
            if n < node.center {
                for &i in &node.by_lower {
                    if !lower_admits(self.ranges[i as usize].0.lower, n) {
                        break;
                    }
                    out.push(next_of(i));
                }
                at = node.below;
            } else if n > node.center {
                for &i in &node.by_upper {
                    if !upper_admits(self.ranges[i as usize].0.upper, n) {
                        break;
                    }
                    out.push(next_of(i));
                }
                at = node.above;
            } else {
                out.extend(node.by_lower.iter().map(|&i| next_of(i)));
                break;
            }
        }
    }
}

fn lower_admits(lower: Option<(f64, bool)>, n: f64) -> bool {
    match lower {
        Some((bound, true)) => n >= bound,
        Some((bound, false)) => n > bound,
        None => true,
    }
}

fn upper_admits(upper: Option<(f64, bool)>, n: f64) -> bool {
    match upper {
        Some((bound, true)) => n <= bound,
        Some((bound, false)) => n < bound,
        None => true,
    }
}

/// The ranges by their smallest double, when each has a lower bound (so its witness is
/// its smallest double) and each one's doubles all lie below the next one's smallest.
fn disjoint(ranges: &[(NumericRange, f64, StateId)]) -> Option<Vec<(f64, u32)>> {
    if ranges.iter().any(|(range, _, _)| range.lower.is_none()) {
        return None;
    }
    let mut sorted: Vec<(f64, u32)> = ranges
        .iter()
        .enumerate()
        .map(|(i, (_, least, _))| (*least, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let apart = sorted.windows(2).all(|pair| {
        let (range, _, _) = &ranges[pair[0].1 as usize];
        // No double of this range reaches the next one's smallest.
        pair[0].0 < pair[1].0 && !upper_admits(range.upper, pair[1].0)
    });
    apart.then_some(sorted)
}

/// A double inside the range, if any: its smallest one (or its largest when unbounded
/// below).
fn witness(range: &NumericRange) -> Option<f64> {
    let candidate = match (range.lower, range.upper) {
        (Some((low, true)), _) => low,
        (Some((low, false)), _) => low.next_up(),
        (None, Some((high, true))) => high,
        (None, Some((high, false))) => high.next_down(),
        (None, None) => 0.0,
    };
    range.contains(candidate).then_some(candidate)
}

impl IntervalTree {
    fn build(ranges: &[(NumericRange, f64, StateId)]) -> Self {
        let mut tree = Self::default();
        let all = (0..u32::try_from(ranges.len()).unwrap_or(u32::MAX)).collect();
        tree.root = tree.add(ranges, all);
        tree.disjoint = disjoint(ranges);
        tree
    }

    /// Adds the subtree of `subset`. The centre is the median of the ranges' witnesses,
    /// so the node holds at least that range and each side at most half of the rest.
    fn add(
        &mut self,
        ranges: &[(NumericRange, f64, StateId)],
        mut subset: Vec<u32>,
    ) -> Option<u32> {
        if subset.is_empty() {
            return None;
        }
        let middle = subset.len() / 2;
        let witness_of = |i: &u32| ranges[*i as usize].1;
        subset.select_nth_unstable_by(middle, |a, b| witness_of(a).total_cmp(&witness_of(b)));
        let center = witness_of(&subset[middle]);
        let (mut here, mut below, mut above) = (Vec::new(), Vec::new(), Vec::new());
        for i in subset {
            let range = &ranges[i as usize].0;
            if range.contains(center) {
                here.push(i);
            } else if lower_admits(range.lower, center) {
                below.push(i);
            } else {
                above.push(i);
            }
        }
        // Lowest lower bound first (none first; inclusive before exclusive at a tie): the
        // ranges admitting a number are then a prefix. Likewise highest upper bound first.
        let lower_key = |i: &u32| {
            ranges[*i as usize]
                .0
                .lower
                .map(|(b, inclusive)| (b, !inclusive))
        };
        let upper_key = |i: &u32| ranges[*i as usize].0.upper;
        let mut by_lower = here.clone();
        by_lower.sort_by(|a, b| match (lower_key(a), lower_key(b)) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)),
        });
        let mut by_upper = here;
        by_upper.sort_by(|a, b| match (upper_key(a), upper_key(b)) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.0.total_cmp(&x.0).then(y.1.cmp(&x.1)),
        });
        let at = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        self.nodes.push(IntervalNode {
            center,
            by_lower,
            by_upper,
            below: None,
            above: None,
        });
        let below = self.add(ranges, below);
        let above = self.add(ranges, above);
        if let Some(node) = self.nodes.get_mut(at as usize) {
            node.below = below;
            node.above = above;
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lower: Option<(f64, bool)>, upper: Option<(f64, bool)>) -> NumericRange {
        NumericRange { lower, upper }
    }

    #[test]
    fn interval_tree_agrees_with_each_range() {
        let mut ranges = Vec::new();
        for i in 0..40 {
            let x = f64::from(i) - 20.0;
            ranges.push(range(Some((x, i % 2 == 0)), None));
            ranges.push(range(None, Some((x, i % 3 == 0))));
            ranges.push(range(Some((x, i % 2 == 0)), Some((x + 3.0, i % 5 == 0))));
            ranges.push(range(Some((x, true)), Some((x, true))));
        }
        ranges.push(range(Some((-0.0, false)), Some((1.0, false))));
        ranges.push(range(Some((1.0, false)), Some((1.0f64.next_up(), false))));
        let mut index = NumericIndex::default();
        for (i, r) in ranges.iter().enumerate() {
            index.insert(r, i as StateId);
        }
        let mut probes: Vec<f64> = (-50..50).map(|i| f64::from(i) * 0.5).collect();
        probes.extend([-0.0, 0.0, f64::MAX, -f64::MAX, 1.0f64.next_up(), f64::NAN]);
        for n in probes {
            let mut found = Vec::new();
            index.collect(n, &mut found);
            found.sort_unstable();
            let expected: Vec<StateId> = (0..ranges.len())
                .filter(|&i| ranges[i].contains(n))
                .map(|i| i as StateId)
                .collect();
            assert_eq!(found, expected, "at {n}");
        }
    }
}
