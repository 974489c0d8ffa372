//! Meta Graph API adapter: Facebook Pages and Instagram.
