//! The built-in rule files, compiled in. A test checks that every file in
//! `rules/builtin/` is listed here.

/// `(file name, contents)` of each built-in rule, in evaluation order.
pub(super) const FILES: &[(&str, &str)] = &[
    ("ssh_brute_force.toml", include_str!("../builtin/ssh_brute_force.toml")),
    (
        "ssh_brute_force_slow.toml",
        include_str!("../builtin/ssh_brute_force_slow.toml"),
    ),
    (
        "ssh_preauth_abuse.toml",
        include_str!("../builtin/ssh_preauth_abuse.toml"),
    ),
    (
        "password_spraying.toml",
        include_str!("../builtin/password_spraying.toml"),
    ),
    (
        "user_enumeration.toml",
        include_str!("../builtin/user_enumeration.toml"),
    ),
    (
        "distributed_brute_force.toml",
        include_str!("../builtin/distributed_brute_force.toml"),
    ),
    (
        "success_after_failures.toml",
        include_str!("../builtin/success_after_failures.toml"),
    ),
    (
        "root_login_public.toml",
        include_str!("../builtin/root_login_public.toml"),
    ),
    (
        "sudo_not_in_sudoers.toml",
        include_str!("../builtin/sudo_not_in_sudoers.toml"),
    ),
    (
        "account_created_privileged.toml",
        include_str!("../builtin/account_created_privileged.toml"),
    ),
    (
        "new_source_for_user.toml",
        include_str!("../builtin/new_source_for_user.toml"),
    ),
    (
        "new_host_for_user.toml",
        include_str!("../builtin/new_host_for_user.toml"),
    ),
    ("new_account.toml", include_str!("../builtin/new_account.toml")),
    (
        "new_hour_for_user.toml",
        include_str!("../builtin/new_hour_for_user.toml"),
    ),
    (
        "first_sudo_for_user.toml",
        include_str!("../builtin/first_sudo_for_user.toml"),
    ),
    (
        "account_change_burst.toml",
        include_str!("../builtin/account_change_burst.toml"),
    ),
    (
        "new_account_used_from_internet.toml",
        include_str!("../builtin/new_account_used_from_internet.toml"),
    ),
    (
        "lateral_movement_after_escalation.toml",
        include_str!("../builtin/lateral_movement_after_escalation.toml"),
    ),
    (
        "concurrent_logins.toml",
        include_str!("../builtin/concurrent_logins.toml"),
    ),
];
