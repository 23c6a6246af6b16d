//! The use cases, over the ports: each is a struct holding exactly the ports it needs, so the
//! Lambda that runs it needs exactly the permissions those ports imply.

pub mod attribute;
pub mod mint;
pub mod redirect;
pub mod screening;
pub mod velocity;

pub use attribute::Attributor;
pub use mint::MintService;
pub use redirect::Redirector;
pub use screening::ScreenService;
