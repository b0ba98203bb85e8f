//! Wire shapes (camelCase JSON), each declared beside its routes in its capability's folder
//! and named here too. Request bodies refuse unknown fields; every field is optional at the
//! serde level so that validation can report all missing fields at once; secrets are
//! [`crate::secret::SecretText`], redacted in `Debug`.

pub use crate::account::routes::{
    CredentialsBody, PasswordBody, PermanentDeleteBody, account_export,
};
pub use crate::admin::routes::{
    AdminUserDto, BulkAssignRoleBody, StopImpersonationBody, SuspendBody, user_status,
};
pub use crate::audit::routes::RetentionBody;
pub use crate::auth::routes::{
    ChangePasswordBody, EmailBody, LoginBody, LoginTwoFactorBody, RefreshBody, RegisterBody,
    ResetPasswordBody, TokenBody, TokensDto, UserDto,
};
pub use crate::notifications::routes::NotificationDto;
pub use crate::oauth::routes::{ExchangeBody, IdentityDto, LinkBody, OAuthProviderDto};
pub use crate::profile::routes::{ProfileBody, ProfileDto, PublicProfileDto, UserWithProfileDto};
pub use crate::roles::routes::{AssignRoleBody, RoleBody, RoleDto};
pub use crate::sessions::routes::SessionDto;
pub use crate::two_factor::routes::{
    CodeBody, DisableTwoFactorBody, EmptyBody, TwoFactorChallengeDto, TwoFactorStatusDto,
};
