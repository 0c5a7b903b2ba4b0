//! `gatehouse user …`: Gatehouse users for the web UI and API (admins bootstrap with these):
//! add, list, reset, and API tokens. Every change is an event in the ledger.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gatehouse_model::{CredentialKind, IdentityKey, UserRecord, UserRole};
use gatehouse_server::auth::{self, Scope, password};
use gatehouse_store::{Store, StoreError};
use serde::Serialize;

use crate::context::Ctx;
use crate::output::{print_listing, when};

/// `gatehouse user …`.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a one-time password (the first sign-in sets a new one and a second factor).
    #[command(after_help = "Examples:
  gatehouse user add ada --role admin
  gatehouse user add bob --role reviewer --identity bob@example.com --email bob@example.com
  gatehouse user add carol --role auditor --email carol@example.com   # signs in through OpenID Connect")]
    Add(AddArgs),
    /// List users.
    #[command(after_help = "Examples:
  gatehouse user list
  gatehouse user list --format json")]
    List,
    /// Give a user a new one-time password and remove their second factor (they enrol again).
    #[command(after_help = "Examples:
  gatehouse user reset bob                       # lost authenticator: a new one-time password")]
    Reset(ResetArgs),
    /// API tokens: create, list, revoke.
    #[command(
        subcommand,
        after_help = "Examples:
  gatehouse user token create robot --scope read --scope evidence --days 30
  gatehouse user token list robot
  gatehouse user token revoke 3f9a0c21b7d4"
    )]
    Token(TokenCommand),
}

/// Arguments of `user add`.
#[derive(Args)]
pub struct AddArgs {
    /// The sign-in name.
    pub name: String,
    /// admin, auditor, reviewer or person.
    #[arg(long)]
    pub role: String,
    /// The identity in the inventory this user is (their own access, their reviews).
    #[arg(long)]
    pub identity: Option<String>,
    /// E-mail (OpenID Connect sign-in matches on it).
    #[arg(long)]
    pub email: Option<String>,
}

/// Arguments of `user reset`.
#[derive(Args)]
pub struct ResetArgs {
    /// The user.
    pub name: String,
}

/// `gatehouse user token …`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token acting as a user; prints it once.
    #[command(after_help = "Examples:
  gatehouse user token create robot --scope read
  gatehouse user token create ci --scope read --scope write --days 7")]
    Create(TokenArgs),
    /// List tokens (of one user, or all).
    #[command(after_help = "Examples:
  gatehouse user token list
  gatehouse user token list robot --format csv")]
    List {
        /// Only this user's.
        user: Option<String>,
    },
    /// Revoke a token.
    #[command(after_help = "Examples:
  gatehouse user token revoke 3f9a0c21b7d4          # the id from gatehouse user token list")]
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// Arguments of `user token create`.
#[derive(Args)]
pub struct TokenArgs {
    /// The user the token acts as.
    pub user: String,
    /// read, evidence, write (repeatable).
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// Days until it expires.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
}

/// Runs `gatehouse user …`.
pub fn run(ctx: &Ctx, cmd: UserCommand) -> Result<ExitCode> {
    let store = ctx.open()?;
    let code = match cmd {
        UserCommand::Add(a) => {
            let otp = add(
                ctx,
                &store,
                &a.name,
                &a.role,
                a.identity.as_deref(),
                a.email.as_deref(),
            )?;
            println!(
                "added user `{}` ({}); one-time password: {otp}",
                a.name, a.role
            );
            println!("the first sign-in replaces it and sets up the authenticator app");
            ExitCode::SUCCESS
        }
        UserCommand::List => list(ctx, &store)?,
        UserCommand::Reset(a) => {
            let otp = reset(ctx, &store, &a.name)?;
            println!(
                "user `{}`: new one-time password {otp}; their second factor and recovery codes were removed (they enrol again)",
                a.name
            );
            ExitCode::SUCCESS
        }
        UserCommand::Token(t) => token(ctx, &store, t)?,
    };
    ctx.seal(&store)?;
    Ok(code)
}

/// Adds a user with a one-time password, and returns the password.
pub fn add(
    ctx: &Ctx,
    store: &Store,
    name: &str,
    role: &str,
    identity: Option<&str>,
    email: Option<&str>,
) -> Result<String> {
    let role: UserRole = role.parse()?;
    let identity = identity.map(IdentityKey::new).transpose()?;
    if let Some(k) = &identity {
        store
            .read(|r| r.resolve_identity(k.as_str(), ctx.now))
            .with_context(|| format!("--identity `{k}`"))?;
    }
    let otp = password::one_time_password();
    let phc = password::hash(&otp).map_err(anyhow::Error::msg)?;
    store.write(&ctx.actor, ctx.now, |w| {
        w.add_user(UserRecord {
            name: name.to_owned(),
            role,
            identity,
            email: email.map(str::to_owned),
            oidc_subject: None,
            disabled: false,
        })?;
        w.set_credential(name, CredentialKind::Password, Some(&phc), true)
    })?;
    Ok(otp)
}

fn reset(ctx: &Ctx, store: &Store, name: &str) -> Result<String> {
    let otp = password::one_time_password();
    let phc = password::hash(&otp).map_err(anyhow::Error::msg)?;
    store.write(&ctx.actor, ctx.now, |w| {
        let Some(user) = w.read()?.user(name)? else {
            return Err(StoreError::unknown(format!("there is no user `{name}`")));
        };
        w.set_credential(name, CredentialKind::Password, Some(&phc), true)?;
        if user.has_totp() {
            w.set_credential(name, CredentialKind::Totp, None, false)?;
        }
        if user.digest(CredentialKind::RecoveryCodes).is_some() {
            w.set_credential(name, CredentialKind::RecoveryCodes, None, false)?;
        }
        Ok(())
    })?;
    Ok(otp)
}

#[derive(Serialize)]
struct UserLine {
    name: String,
    role: String,
    identity: String,
    email: String,
    second_factor: bool,
    must_change_password: bool,
    disabled: bool,
    last_sign_in: String,
}

fn list(ctx: &Ctx, store: &Store) -> Result<ExitCode> {
    let users = store.read(|r| r.users())?;
    let rows: Vec<UserLine> = users
        .into_iter()
        .map(|u| UserLine {
            second_factor: u.has_totp(),
            name: u.name,
            role: u.role.to_string(),
            identity: u.identity.map(|i| i.to_string()).unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            must_change_password: u.password_one_time,
            disabled: u.disabled,
            last_sign_in: u.last_sign_in.map(when).unwrap_or_default(),
        })
        .collect();
    print_listing(
        ctx.format,
        &[
            "user",
            "role",
            "identity",
            "e-mail",
            "2nd factor",
            "must change password",
            "disabled",
            "last sign-in",
        ],
        &rows,
        |u| {
            let yes = |b: bool| if b { "yes" } else { "" }.to_owned();
            vec![
                u.name.clone(),
                u.role.clone(),
                u.identity.clone(),
                u.email.clone(),
                yes(u.second_factor),
                yes(u.must_change_password),
                yes(u.disabled),
                u.last_sign_in.clone(),
            ]
        },
        "no users; add one with `gatehouse user add <name> --role admin`",
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TokenLine {
    id: String,
    user: String,
    scopes: String,
    created: String,
    expires: String,
    revoked: String,
}

fn token(ctx: &Ctx, store: &Store, cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create(a) => {
            let scopes = a
                .scopes
                .iter()
                .map(|s| s.parse::<Scope>().map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()?;
            if !(1..=3660).contains(&a.days) {
                bail!("--days must be between 1 and 3660");
            }
            let expires = ctx
                .now
                .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(a.days)))?;
            let (text, record) = auth::new_token(&a.user, &scopes, expires);
            let id = record.id.clone();
            store.write(&ctx.actor, ctx.now, |w| w.create_token(record))?;
            println!("token {id} for `{}` (expires {}):", a.user, when(expires));
            println!("{text}");
            eprintln!("it is shown once; give it as `Authorization: Bearer <token>`");
        }
        TokenCommand::List { user } => {
            let rows: Vec<TokenLine> = store
                .read(|r| r.api_tokens(user.as_deref()))?
                .into_iter()
                .map(|t| TokenLine {
                    id: t.id,
                    user: t.user,
                    scopes: t.scopes.join(" "),
                    created: when(t.created_at),
                    expires: when(t.expires_at),
                    revoked: t.revoked_at.map(when).unwrap_or_default(),
                })
                .collect();
            print_listing(
                ctx.format,
                &["id", "user", "scopes", "created", "expires", "revoked"],
                &rows,
                |t| {
                    vec![
                        t.id.clone(),
                        t.user.clone(),
                        t.scopes.clone(),
                        t.created.clone(),
                        t.expires.clone(),
                        t.revoked.clone(),
                    ]
                },
                "no API tokens",
            )?;
        }
        TokenCommand::Revoke { id } => {
            store.write(&ctx.actor, ctx.now, |w| w.revoke_token(&id))?;
            println!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
