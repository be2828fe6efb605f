//! `Shared`: a provider (tokens, AWS credentials) held by a config, which must stay `Clone`,
//! `Debug` and `Eq`.

use std::fmt;
use std::sync::Arc;

/// A provider shared by the configs and connections that use it. Configs holding the same
/// provider compare equal; its `Debug` names the kind of provider, never its contents.
pub struct Shared<T: ?Sized>(pub Arc<T>);

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: ?Sized> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shared<{}>", std::any::type_name::<T>())
    }
}

impl<T: ?Sized> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: ?Sized> Eq for Shared<T> {}
