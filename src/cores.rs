//! Work on a large zone shared out among the cores.
//!
//! A fleet has many small zones, built one after another at full speed on
//! one thread each; threads pay off only for a zone of many names, whose
//! build a restart or a full rebuild waits for.

/// Units of work from which a task is shared out.
const SHARED_FROM: usize = 100_000;

/// How many threads to give `units` units of work: every core for a large
/// task, one for a small one.
pub fn threads_for(units: usize) -> usize {
    if units >= SHARED_FROM {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        1
    }
}

/// `work` run on each part, each on a thread of its own (the first on
/// this one), with the results in the order of the parts.
pub fn map_each<T: Send, R: Send>(parts: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Vec::new();
    };
    let work = &work;
    std::thread::scope(|scope| {
        let running: Vec<_> = parts.map(|part| scope.spawn(move || work(part))).collect();
        let mut results = Vec::with_capacity(running.len() + 1);
        results.push(work(first));
        for part in running {
            results.push(part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    })
}

/// `work` run on `threads` consecutive parts of `items`, given each part
/// and the position of its first item, with the results in order.
pub fn map_slices<T: Sync, R: Send>(items: &[T], threads: usize, work: impl Fn(usize, &[T]) -> R + Sync) -> Vec<R> {
    let size = items.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<(usize, &[T])> = items
        .chunks(size)
        .enumerate()
        .map(|(n, part)| (n * size, part))
        .collect();
    map_each(parts, |(start, part)| work(start, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_parts() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 3, 7, 2000] {
            let sums = map_slices(&items, threads, |start, part| (start, part.to_vec()));
            assert!(sums.len() <= threads.max(1));
            let mut next = 0;
            for (start, part) in sums {
                assert_eq!(start, next, "{threads} threads");
                next += part.len();
                assert_eq!(part, items[start..next], "{threads} threads");
            }
            assert_eq!(next, items.len());
        }
        assert!(map_slices(&[] as &[u32], 3, |_, part| part.len()).is_empty());
        assert_eq!(map_each(vec![3, 1, 2], |n| n * 10), vec![30, 10, 20]);
    }
}
