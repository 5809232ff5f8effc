//! Running listeners by name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::listener::Shared;

fn names() -> &'static Mutex<HashMap<Arc<str>, Weak<Shared>>> {
    static NAMES: OnceLock<Mutex<HashMap<Arc<str>, Weak<Shared>>>> = OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// Claims `name` for `shared`; false when a running listener already has it.
pub(crate) fn claim(name: &Arc<str>, shared: &Arc<Shared>) -> bool {
    let mut names = names().lock().unwrap_or_else(|e| e.into_inner());
    if names.get(name).is_some_and(|w| w.strong_count() > 0) {
        return false;
    }
    names.insert(name.clone(), Arc::downgrade(shared));
    true
}

/// Frees `name` if it still belongs to `shared`.
pub(crate) fn release(name: &str, shared: &Arc<Shared>) {
    let mut names = names().lock().unwrap_or_else(|e| e.into_inner());
    if names
        .get(name)
        .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)))
    {
        names.remove(name);
    }
}

/// The running listener called `name`.
pub(crate) fn find(name: &str) -> Option<Arc<Shared>> {
    let names = names().lock().unwrap_or_else(|e| e.into_inner());
    names.get(name).and_then(Weak::upgrade)
}
