//! The demo company's fixed catalogue: departments, titles, job roles, systems, entitlements,
//! birthright rules and the templates of non-human identities.

use std::collections::HashMap;

use gatehouse_model::{Criticality, IdentityKind, RiskLevel};

// System indices (positions in `SYSTEMS`).
pub(crate) const ERP: u8 = 0;
pub(crate) const GL: u8 = 1;
pub(crate) const PAYROLL: u8 = 2;
pub(crate) const HRIS: u8 = 3;
pub(crate) const AD: u8 = 4;
pub(crate) const AWS: u8 = 5;
pub(crate) const GITHUB: u8 = 6;
pub(crate) const PRODDB: u8 = 7;
pub(crate) const SALESFORCE: u8 = 8;
pub(crate) const SLACK: u8 = 9;
pub(crate) const JIRA: u8 = 10;
pub(crate) const EXPENSES: u8 = 11;

// Department indices (positions in `DEPTS`).
pub(crate) const EXEC: u8 = 0;
pub(crate) const ENG: u8 = 1;
pub(crate) const SALES: u8 = 3;
pub(crate) const FINANCE: u8 = 6;
pub(crate) const ACCOUNTING: u8 = 7;
pub(crate) const HR: u8 = 8;
pub(crate) const IT: u8 = 9;
pub(crate) const LEGAL: u8 = 10;

/// How a system's `system.toml` links accounts to identities.
pub(crate) enum Rule {
    Identity,
    EmployeeId,
    Email,
    Username(&'static str),
}

/// A governed system.
pub(crate) struct SysDef {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub criticality: Criticality,
    pub frameworks: &'static [&'static str],
    pub financial: bool,
    /// The department whose head owns the system.
    pub owner_dept: u8,
    pub rules: &'static [Rule],
    /// Whether the source reports MFA per account.
    pub mfa: bool,
    pub vendor: &'static str,
}

pub(crate) const SYSTEMS: &[SysDef] = &[
    SysDef {
        key: "erp",
        name: "SAP S/4HANA",
        description: "Enterprise resource planning: procurement, accounts payable, vendor master, payment runs",
        criticality: Criticality::Critical,
        frameworks: &["soc2", "sox"],
        financial: true,
        owner_dept: FINANCE,
        rules: &[Rule::Identity, Rule::EmployeeId],
        mfa: false,
        vendor: "SAP",
    },
    SysDef {
        key: "gl",
        name: "General Ledger",
        description: "General ledger: journal entries, period close, financial statements",
        criticality: Criticality::Critical,
        frameworks: &["sox"],
        financial: true,
        owner_dept: ACCOUNTING,
        rules: &[
            Rule::Identity,
            Rule::Username("^(?P<employee_id>E[0-9]{6,})$"),
        ],
        mfa: false,
        vendor: "Oracle",
    },
    SysDef {
        key: "payroll",
        name: "Payroll",
        description: "Payroll processing and payslips",
        criticality: Criticality::Critical,
        frameworks: &["sox"],
        financial: false,
        owner_dept: HR,
        rules: &[Rule::EmployeeId],
        mfa: false,
        vendor: "ADP",
    },
    SysDef {
        key: "hris",
        name: "Workday HCM",
        description: "Human resources information system: workers, compensation, self-service",
        criticality: Criticality::High,
        frameworks: &["soc2"],
        financial: false,
        owner_dept: HR,
        rules: &[Rule::EmployeeId],
        mfa: false,
        vendor: "Workday",
    },
    SysDef {
        key: "ad",
        name: "Active Directory",
        description: "Corporate directory: sign-in, groups, file shares, VPN",
        criticality: Criticality::Critical,
        frameworks: &["iso27001", "soc2"],
        financial: false,
        owner_dept: IT,
        rules: &[
            Rule::Identity,
            Rule::Email,
            Rule::Username("^a-(?P<email_local>[a-z0-9.]+)$"),
        ],
        mfa: true,
        vendor: "Microsoft",
    },
    SysDef {
        key: "aws",
        name: "AWS production organisation",
        description: "Amazon Web Services accounts of the production platform (IAM Identity Center)",
        criticality: Criticality::Critical,
        frameworks: &["iso27001", "soc2"],
        financial: false,
        owner_dept: ENG,
        rules: &[
            Rule::Identity,
            Rule::Username("^(?P<email>[a-z0-9.]+@example\\.com)$"),
        ],
        mfa: true,
        vendor: "Amazon Web Services",
    },
    SysDef {
        key: "github",
        name: "GitHub Enterprise",
        description: "Source code, code review and CI",
        criticality: Criticality::High,
        frameworks: &["soc2"],
        financial: false,
        owner_dept: ENG,
        rules: &[Rule::Identity, Rule::Email],
        mfa: true,
        vendor: "GitHub",
    },
    SysDef {
        key: "proddb",
        name: "Production PostgreSQL",
        description: "The production database of the customer platform, including billing data",
        criticality: Criticality::Critical,
        frameworks: &["soc2", "sox"],
        financial: false,
        owner_dept: ENG,
        rules: &[
            Rule::Identity,
            Rule::Username("^(?P<email_local>[a-z]+\\.[a-z]+[0-9]*)$"),
        ],
        mfa: false,
        vendor: "PostgreSQL",
    },
    SysDef {
        key: "salesforce",
        name: "Salesforce",
        description: "CRM: accounts, opportunities, support cases",
        criticality: Criticality::High,
        frameworks: &["soc2"],
        financial: false,
        owner_dept: SALES,
        rules: &[Rule::Identity, Rule::Email],
        mfa: true,
        vendor: "Salesforce",
    },
    SysDef {
        key: "slack",
        name: "Slack",
        description: "Chat",
        criticality: Criticality::Low,
        frameworks: &[],
        financial: false,
        owner_dept: IT,
        rules: &[Rule::Identity, Rule::Email],
        mfa: false,
        vendor: "Slack",
    },
    SysDef {
        key: "jira",
        name: "Jira",
        description: "Issue tracking and the IT service desk",
        criticality: Criticality::Medium,
        frameworks: &[],
        financial: false,
        owner_dept: IT,
        // No rules: the importer's defaults (identity, employee_id, email) apply.
        rules: &[],
        mfa: false,
        vendor: "Atlassian",
    },
    SysDef {
        key: "expenses",
        name: "SAP Concur",
        description: "Travel and expense claims",
        criticality: Criticality::Medium,
        frameworks: &["sox"],
        financial: false,
        owner_dept: FINANCE,
        rules: &[Rule::Identity, Rule::EmployeeId],
        mfa: false,
        vendor: "SAP",
    },
];

/// Static entitlements: (system, native id, name, description, privileged, risk).
type EntRow = (
    u8,
    &'static str,
    &'static str,
    &'static str,
    bool,
    RiskLevel,
);

const ENTS: &[EntRow] = &[
    (
        ERP,
        "role/ERP_Display",
        "ERP display",
        "Read-only access to ERP documents",
        false,
        RiskLevel::Low,
    ),
    (
        ERP,
        "role/AP_Clerk",
        "AP invoice entry",
        "Enter and park vendor invoices",
        false,
        RiskLevel::Medium,
    ),
    (
        ERP,
        "role/AP_Approver",
        "AP invoice approval",
        "Approve parked vendor invoices for payment",
        false,
        RiskLevel::High,
    ),
    (
        ERP,
        "role/Vendor_Master_Maintain",
        "Vendor master maintain",
        "Create and change vendors, including bank details",
        false,
        RiskLevel::High,
    ),
    (
        ERP,
        "role/Payment_Release",
        "Payment run/release",
        "Execute payment runs and release payments to the bank",
        true,
        RiskLevel::Critical,
    ),
    (
        ERP,
        "role/PO_Create",
        "Create purchase order",
        "Create and change purchase orders",
        false,
        RiskLevel::Medium,
    ),
    (
        ERP,
        "role/PO_Approve",
        "Approve purchase order",
        "Release purchase orders above the approval limit",
        false,
        RiskLevel::High,
    ),
    (
        ERP,
        "role/Treasury_Bank_Comm",
        "Bank communication",
        "Send payment files and statements to banks",
        true,
        RiskLevel::High,
    ),
    (
        ERP,
        "role/Sales_Order_Entry",
        "Sales order entry",
        "Create and change sales orders",
        false,
        RiskLevel::Medium,
    ),
    (
        ERP,
        "role/Basis_Admin",
        "Basis administration",
        "System administration of the ERP (users, transports)",
        true,
        RiskLevel::Critical,
    ),
    (
        ERP,
        "role/SAP_ALL",
        "SAP_ALL",
        "Unrestricted superuser profile",
        true,
        RiskLevel::Critical,
    ),
    (
        GL,
        "role/GL_View",
        "GL view",
        "View balances and journal entries",
        false,
        RiskLevel::Low,
    ),
    (
        GL,
        "role/GL_Reporting",
        "Financial reporting",
        "Run financial statements and management reports",
        false,
        RiskLevel::Medium,
    ),
    (
        GL,
        "role/JE_Create",
        "Journal entry create",
        "Create and post manual journal entries",
        false,
        RiskLevel::High,
    ),
    (
        GL,
        "role/JE_Approve",
        "Journal entry approve",
        "Approve manual journal entries",
        false,
        RiskLevel::High,
    ),
    (
        GL,
        "role/Period_Close",
        "Period close",
        "Open and close accounting periods",
        true,
        RiskLevel::High,
    ),
    (
        GL,
        "role/GL_Admin",
        "GL administrator",
        "Configure the ledger, chart of accounts and users",
        true,
        RiskLevel::Critical,
    ),
    (
        PAYROLL,
        "role/Payroll_Viewer",
        "Payroll viewer",
        "View payroll results and payslips",
        false,
        RiskLevel::Medium,
    ),
    (
        PAYROLL,
        "role/Run_Payroll",
        "Run payroll",
        "Calculate and release payroll runs",
        true,
        RiskLevel::Critical,
    ),
    (
        PAYROLL,
        "role/Payroll_Admin",
        "Payroll administrator",
        "Configure payroll and its users",
        true,
        RiskLevel::Critical,
    ),
    (
        HRIS,
        "sg/Self_Service",
        "Employee self-service",
        "View and update one's own worker data",
        false,
        RiskLevel::Low,
    ),
    (
        HRIS,
        "sg/Benefits",
        "Benefits enrollment",
        "Enroll in company benefits",
        false,
        RiskLevel::Low,
    ),
    (
        HRIS,
        "sg/Manager_Self_Service",
        "Manager self-service",
        "Approve time off and view the data of direct reports",
        false,
        RiskLevel::Low,
    ),
    (
        HRIS,
        "sg/HR_Partner",
        "HR business partner",
        "View and change worker data of a supported organisation",
        false,
        RiskLevel::Medium,
    ),
    (
        HRIS,
        "sg/Recruiting",
        "Recruiting",
        "Manage requisitions and candidates",
        false,
        RiskLevel::Low,
    ),
    (
        HRIS,
        "sg/Edit_Pay_Data",
        "Edit employee pay data",
        "Change salaries, bank accounts and one-time payments",
        false,
        RiskLevel::High,
    ),
    (
        HRIS,
        "sg/Security_Admin",
        "HRIS security administrator",
        "Assign HRIS security groups",
        true,
        RiskLevel::Critical,
    ),
    (
        AD,
        "group/All_Staff",
        "All staff",
        "Every employee and contractor",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/VPN_Users",
        "VPN users",
        "Remote access VPN",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/WiFi_Corporate",
        "Corporate Wi-Fi",
        "Office wireless network",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/M365_E3",
        "Microsoft 365 E3",
        "Microsoft 365 E3 licence",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/M365_F3",
        "Microsoft 365 F3",
        "Microsoft 365 F3 licence for contractors",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/Finance_Share",
        "Finance share",
        "Finance and accounting file share",
        false,
        RiskLevel::Medium,
    ),
    (
        AD,
        "group/HR_Confidential",
        "HR confidential share",
        "Confidential HR documents",
        false,
        RiskLevel::High,
    ),
    (
        AD,
        "group/Legal_Share",
        "Legal share",
        "Contracts and legal matters",
        false,
        RiskLevel::Medium,
    ),
    (
        AD,
        "group/Service_Accounts",
        "Service accounts",
        "Non-interactive service accounts (interactive logon denied)",
        false,
        RiskLevel::Low,
    ),
    (
        AD,
        "group/Helpdesk_Operators",
        "Helpdesk operators",
        "Reset passwords and unlock user accounts",
        false,
        RiskLevel::Medium,
    ),
    (
        AD,
        "group/Server_Admins",
        "Server administrators",
        "Local administrator on member servers",
        true,
        RiskLevel::High,
    ),
    (
        AD,
        "group/Domain_Admins",
        "Domain admins",
        "Full control of the domain",
        true,
        RiskLevel::Critical,
    ),
    (
        AWS,
        "permset/ReadOnly",
        "ReadOnly",
        "Read-only access to all production accounts",
        false,
        RiskLevel::Low,
    ),
    (
        AWS,
        "permset/Developer",
        "Developer",
        "Deploy and operate application workloads",
        false,
        RiskLevel::Medium,
    ),
    (
        AWS,
        "permset/PowerUser",
        "PowerUser",
        "Full access except IAM and organisation management",
        true,
        RiskLevel::High,
    ),
    (
        AWS,
        "permset/AdministratorAccess",
        "AdministratorAccess",
        "Full administrative access, including IAM",
        true,
        RiskLevel::Critical,
    ),
    (
        AWS,
        "permset/Billing",
        "Billing",
        "View and manage billing and cost reports",
        false,
        RiskLevel::Medium,
    ),
    (
        AWS,
        "permset/SecurityAudit",
        "SecurityAudit",
        "Read security configuration and logs",
        false,
        RiskLevel::Medium,
    ),
    (
        GITHUB,
        "org/member",
        "Organisation member",
        "Member of the GitHub organisation",
        false,
        RiskLevel::Low,
    ),
    (
        GITHUB,
        "org/owner",
        "Organisation owner",
        "Owner of the GitHub organisation",
        true,
        RiskLevel::Critical,
    ),
    (
        GITHUB,
        "team/engineering",
        "Team engineering (write)",
        "Write access to product repositories",
        false,
        RiskLevel::Medium,
    ),
    (
        GITHUB,
        "team/platform",
        "Team platform (maintain)",
        "Maintain infrastructure repositories and deployment workflows",
        false,
        RiskLevel::High,
    ),
    (
        GITHUB,
        "team/security",
        "Team security (admin)",
        "Administer security tooling repositories",
        false,
        RiskLevel::Medium,
    ),
    (
        PRODDB,
        "role/readonly",
        "readonly",
        "Read production data",
        false,
        RiskLevel::High,
    ),
    (
        PRODDB,
        "role/app_rw",
        "app_rw",
        "Read and write application tables",
        false,
        RiskLevel::High,
    ),
    (
        PRODDB,
        "role/dba",
        "dba",
        "Database superuser",
        true,
        RiskLevel::Critical,
    ),
    (
        SALESFORCE,
        "profile/Standard_User",
        "Standard User",
        "Work with accounts, contacts and opportunities",
        false,
        RiskLevel::Low,
    ),
    (
        SALESFORCE,
        "profile/Sales_Manager",
        "Sales Manager",
        "Manage the pipeline and forecasts of a team",
        false,
        RiskLevel::Medium,
    ),
    (
        SALESFORCE,
        "profile/Support_Agent",
        "Support Agent",
        "Work on support cases",
        false,
        RiskLevel::Low,
    ),
    (
        SALESFORCE,
        "permset/Export_Reports",
        "Export reports",
        "Export report data",
        false,
        RiskLevel::Medium,
    ),
    (
        SALESFORCE,
        "profile/System_Administrator",
        "System Administrator",
        "Full administration of the org",
        true,
        RiskLevel::Critical,
    ),
    (
        SLACK,
        "workspace/member",
        "Workspace member",
        "Member of the company workspace",
        false,
        RiskLevel::Low,
    ),
    (
        SLACK,
        "workspace/admin",
        "Workspace admin",
        "Administer members, channels and apps",
        true,
        RiskLevel::High,
    ),
    (
        SLACK,
        "channel/general",
        "#general",
        "Company-wide channel",
        false,
        RiskLevel::Low,
    ),
    (
        SLACK,
        "channel/announcements",
        "#announcements",
        "Company announcements",
        false,
        RiskLevel::Low,
    ),
    (
        JIRA,
        "group/jira-software-users",
        "Jira Software users",
        "Work on software projects",
        false,
        RiskLevel::Low,
    ),
    (
        JIRA,
        "group/jira-servicedesk-agents",
        "Service desk agents",
        "Work on service desk tickets",
        false,
        RiskLevel::Low,
    ),
    (
        JIRA,
        "group/jira-servicedesk-customers",
        "Service desk customers",
        "Raise service desk requests",
        false,
        RiskLevel::Low,
    ),
    (
        JIRA,
        "group/project-admins",
        "Project administrators",
        "Administer projects and workflows",
        false,
        RiskLevel::Medium,
    ),
    (
        JIRA,
        "group/site-admins",
        "Site administrators",
        "Administer the Jira site and its users",
        true,
        RiskLevel::High,
    ),
    (
        EXPENSES,
        "role/submitter",
        "Expense submitter",
        "Submit expense claims",
        false,
        RiskLevel::Low,
    ),
    (
        EXPENSES,
        "role/travel_booking",
        "Travel booking",
        "Book travel",
        false,
        RiskLevel::Low,
    ),
    (
        EXPENSES,
        "role/approver",
        "Expense approver",
        "Approve the expense claims of direct reports",
        false,
        RiskLevel::Medium,
    ),
    (
        EXPENSES,
        "role/finance_review",
        "Finance review",
        "Audit and release expense claims for reimbursement",
        false,
        RiskLevel::Medium,
    ),
    (
        EXPENSES,
        "role/admin",
        "Expenses administrator",
        "Configure policies, users and approval flows",
        true,
        RiskLevel::High,
    ),
];

/// One title of a department.
pub(crate) struct TitleSpec {
    pub title: &'static str,
    pub level: &'static str,
    pub role: &'static str,
    pub weight: u32,
}

const fn t(title: &'static str, level: &'static str, role: &'static str, weight: u32) -> TitleSpec {
    TitleSpec {
        title,
        level,
        role,
        weight,
    }
}

/// A department.
pub(crate) struct DeptDef {
    pub name: &'static str,
    pub slug: &'static str,
    pub group: &'static str,
    /// Share of headcount in percent.
    pub share: u32,
    pub cost_center: &'static str,
    /// Title of the executive heading the department (the CEO for the Executive department).
    pub head: &'static str,
    pub ics: &'static [TitleSpec],
    pub managers: &'static [TitleSpec],
    /// Job role of directors and vice presidents.
    pub senior_role: &'static str,
}

pub(crate) const DEPTS: &[DeptDef] = &[
    DeptDef {
        name: "Executive",
        slug: "executive",
        group: "Executive",
        share: 1,
        cost_center: "CC-1000",
        head: "Chief Executive Officer",
        ics: &[
            t("Chief of Staff", "IC4", "executive-office", 1),
            t("Executive Assistant", "IC2", "executive-office", 1),
        ],
        managers: &[],
        senior_role: "executive",
    },
    DeptDef {
        name: "Engineering",
        slug: "engineering",
        group: "Engineering",
        share: 29,
        cost_center: "CC-2000",
        head: "Chief Technology Officer",
        ics: &[
            t("Software Engineer", "IC2", "engineer", 30),
            t("Senior Software Engineer", "IC3", "engineer", 24),
            t("Staff Engineer", "IC4", "engineer", 5),
            t("QA Engineer", "IC2", "qa-engineer", 8),
            t("Site Reliability Engineer", "IC3", "sre", 10),
            t("Database Administrator", "IC3", "dba", 3),
            t("Security Engineer", "IC3", "security-engineer", 4),
            t("Data Engineer", "IC2", "data-engineer", 6),
        ],
        managers: &[t("Engineering Manager", "M1", "engineering-manager", 1)],
        senior_role: "engineering-manager",
    },
    DeptDef {
        name: "Product",
        slug: "product",
        group: "Product",
        share: 6,
        cost_center: "CC-2500",
        head: "Chief Product Officer",
        ics: &[
            t("Product Manager", "IC3", "product", 55),
            t("Product Designer", "IC2", "designer", 35),
            t("UX Researcher", "IC2", "designer", 10),
        ],
        managers: &[t("Group Product Manager", "M1", "product", 1)],
        senior_role: "product",
    },
    DeptDef {
        name: "Sales",
        slug: "sales",
        group: "Sales",
        share: 18,
        cost_center: "CC-3000",
        head: "Chief Revenue Officer",
        ics: &[
            t("Account Executive", "IC2", "sales-rep", 40),
            t("Sales Development Representative", "IC1", "sales-rep", 34),
            t("Solutions Engineer", "IC3", "solutions-engineer", 12),
            t("Sales Operations Analyst", "IC2", "sales-ops", 6),
        ],
        managers: &[t("Sales Manager", "M1", "sales-manager", 1)],
        senior_role: "sales-manager",
    },
    DeptDef {
        name: "Customer Support",
        slug: "support",
        group: "CustomerSupport",
        share: 10,
        cost_center: "CC-3500",
        head: "Chief Customer Officer",
        ics: &[
            t("Support Agent", "IC1", "support-agent", 60),
            t("Senior Support Agent", "IC2", "support-agent", 30),
            t("Support Operations Analyst", "IC2", "support-ops", 6),
        ],
        managers: &[t("Support Manager", "M1", "support-manager", 1)],
        senior_role: "support-manager",
    },
    DeptDef {
        name: "Marketing",
        slug: "marketing",
        group: "Marketing",
        share: 7,
        cost_center: "CC-4000",
        head: "Chief Marketing Officer",
        ics: &[
            t("Marketing Specialist", "IC2", "marketing", 45),
            t("Content Writer", "IC2", "marketing", 20),
            t("Product Marketing Manager", "IC3", "marketing", 20),
            t("Marketing Operations Analyst", "IC2", "marketing-ops", 15),
        ],
        managers: &[t("Marketing Manager", "M1", "marketing", 1)],
        senior_role: "marketing",
    },
    DeptDef {
        name: "Finance",
        slug: "finance",
        group: "Finance",
        share: 6,
        cost_center: "CC-5000",
        head: "Chief Financial Officer",
        ics: &[
            t("Accounts Payable Clerk", "IC1", "ap-clerk", 35),
            t("Treasury Analyst", "IC2", "treasury", 12),
            t("Financial Analyst", "IC2", "financial-analyst", 30),
            t("Finance Systems Analyst", "IC3", "finance-systems", 6),
        ],
        managers: &[
            t("Accounts Payable Manager", "M1", "ap-manager", 40),
            t("Financial Controller", "M1", "controller", 35),
            t("Finance Manager", "M1", "finance-manager", 25),
        ],
        senior_role: "finance-manager",
    },
    DeptDef {
        name: "Accounting",
        slug: "accounting",
        group: "Accounting",
        share: 4,
        cost_center: "CC-5100",
        head: "Chief Accounting Officer",
        ics: &[
            t("Staff Accountant", "IC2", "accountant", 55),
            t("Senior Accountant", "IC3", "accountant", 30),
            t("GL Administrator", "IC3", "gl-admin", 8),
        ],
        managers: &[t("Accounting Manager", "M1", "accounting-manager", 1)],
        senior_role: "accounting-manager",
    },
    DeptDef {
        name: "HR",
        slug: "hr",
        group: "HR",
        share: 3,
        cost_center: "CC-6000",
        head: "Chief People Officer",
        ics: &[
            t("HR Business Partner", "IC3", "hr-partner", 30),
            t("Recruiter", "IC2", "recruiter", 35),
            t("Payroll Specialist", "IC2", "payroll-specialist", 15),
            t("Compensation Analyst", "IC2", "compensation", 10),
            t("HRIS Administrator", "IC3", "hris-admin", 5),
        ],
        managers: &[t("HR Manager", "M1", "hr-partner", 1)],
        senior_role: "hr-partner",
    },
    DeptDef {
        name: "IT",
        slug: "it",
        group: "IT",
        share: 5,
        cost_center: "CC-7000",
        head: "Chief Information Officer",
        ics: &[
            t("IT Support Specialist", "IC1", "it-support", 40),
            t("Systems Administrator", "IC3", "sysadmin", 20),
            t("Directory Services Engineer", "IC3", "directory-admin", 6),
            t("Cloud Administrator", "IC3", "cloud-admin", 10),
            t("DevTools Administrator", "IC3", "devtools-admin", 5),
            t("ERP Basis Administrator", "IC3", "erp-admin", 5),
            t("Salesforce Administrator", "IC3", "crm-admin", 6),
        ],
        managers: &[t("IT Manager", "M1", "it-manager", 1)],
        senior_role: "it-manager",
    },
    DeptDef {
        name: "Legal",
        slug: "legal",
        group: "Legal",
        share: 3,
        cost_center: "CC-8000",
        head: "General Counsel",
        ics: &[
            t("Counsel", "IC3", "legal", 50),
            t("Paralegal", "IC1", "legal", 35),
            t("Contracts Manager", "IC2", "legal", 15),
        ],
        managers: &[t("Legal Operations Manager", "M1", "legal", 1)],
        senior_role: "legal",
    },
    DeptDef {
        name: "Operations",
        slug: "operations",
        group: "Operations",
        share: 8,
        cost_center: "CC-9000",
        head: "Chief Operating Officer",
        ics: &[
            t("Procurement Specialist", "IC2", "procurement", 25),
            t("Operations Analyst", "IC2", "operations", 45),
            t("Facilities Coordinator", "IC1", "facilities", 20),
        ],
        managers: &[
            t("Procurement Manager", "M1", "procurement-manager", 40),
            t("Operations Manager", "M1", "operations", 60),
        ],
        senior_role: "operations",
    },
];

/// Offices and other locations: (name, slug for group names, weight, is an office).
pub(crate) const LOCATIONS: &[(&str, &str, u32, bool)] = &[
    ("New York", "NewYork", 30, true),
    ("London", "London", 20, true),
    ("Berlin", "Berlin", 15, true),
    ("Austin", "Austin", 15, true),
    ("Singapore", "Singapore", 10, true),
    ("Remote", "Remote", 10, false),
];

/// Job levels of people managers (the `job_level` HR column).
pub(crate) const MANAGER_LEVELS: &[&str] = &["M1", "D1", "D2", "VP", "SVP", "C"];

/// A job role: what a title needs, plus extra access commonly requested by its holders.
pub(crate) struct JobRoleDef {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub ents: &'static [&'static str],
    /// Entitlements people of this role often request, with the share of holders.
    pub requestables: &'static [(&'static str, f64)],
}

const fn r(
    key: &'static str,
    name: &'static str,
    description: &'static str,
    ents: &'static [&'static str],
    requestables: &'static [(&'static str, f64)],
) -> JobRoleDef {
    JobRoleDef {
        key,
        name,
        description,
        ents,
        requestables,
    }
}

pub(crate) const JOB_ROLES: &[JobRoleDef] = &[
    r(
        "executive",
        "Executive",
        "Members of the executive team",
        &["gl:role/GL_Reporting", "salesforce:profile/Standard_User"],
        &[],
    ),
    r(
        "executive-office",
        "Executive office",
        "Chief of staff and executive assistants",
        &["jira:group/jira-software-users"],
        &[],
    ),
    r(
        "engineer",
        "Software engineer",
        "Builds and runs the product",
        &[
            "github:org/member",
            "github:team/engineering",
            "aws:permset/ReadOnly",
            "aws:permset/Developer",
            "jira:group/jira-software-users",
        ],
        &[("proddb:role/readonly", 0.3)],
    ),
    r(
        "qa-engineer",
        "QA engineer",
        "Tests the product",
        &[
            "github:org/member",
            "github:team/engineering",
            "aws:permset/ReadOnly",
            "jira:group/jira-software-users",
        ],
        &[("aws:permset/Developer", 0.4)],
    ),
    r(
        "sre",
        "Site reliability engineer",
        "Operates the production platform",
        &[
            "github:org/member",
            "github:team/platform",
            "aws:permset/ReadOnly",
            "aws:permset/PowerUser",
            "proddb:role/app_rw",
            "jira:group/jira-software-users",
        ],
        &[("proddb:role/readonly", 0.5)],
    ),
    r(
        "dba",
        "Database administrator",
        "Administers the production database",
        &[
            "proddb:role/dba",
            "proddb:role/readonly",
            "aws:permset/ReadOnly",
            "github:org/member",
            "jira:group/jira-software-users",
        ],
        &[],
    ),
    r(
        "security-engineer",
        "Security engineer",
        "Secures the platform",
        &[
            "github:org/member",
            "github:team/security",
            "aws:permset/ReadOnly",
            "aws:permset/SecurityAudit",
            "jira:group/jira-software-users",
        ],
        &[("proddb:role/readonly", 0.4)],
    ),
    r(
        "data-engineer",
        "Data engineer",
        "Builds data pipelines",
        &[
            "github:org/member",
            "github:team/engineering",
            "aws:permset/ReadOnly",
            "aws:permset/Developer",
            "proddb:role/readonly",
            "jira:group/jira-software-users",
        ],
        &[],
    ),
    r(
        "engineering-manager",
        "Engineering manager",
        "Leads engineering teams",
        &[
            "github:org/member",
            "github:team/engineering",
            "aws:permset/ReadOnly",
            "jira:group/jira-software-users",
            "jira:group/project-admins",
        ],
        &[("salesforce:profile/Standard_User", 0.3)],
    ),
    r(
        "product",
        "Product manager",
        "Owns product areas",
        &[
            "jira:group/jira-software-users",
            "jira:group/project-admins",
            "github:org/member",
        ],
        &[
            ("aws:permset/ReadOnly", 0.3),
            ("salesforce:profile/Standard_User", 0.4),
        ],
    ),
    r(
        "designer",
        "Product designer",
        "Designs and researches the product",
        &["jira:group/jira-software-users", "github:org/member"],
        &[],
    ),
    r(
        "sales-rep",
        "Sales representative",
        "Sells to customers",
        &["salesforce:profile/Standard_User"],
        &[("salesforce:permset/Export_Reports", 0.3)],
    ),
    r(
        "solutions-engineer",
        "Solutions engineer",
        "Technical pre-sales",
        &[
            "salesforce:profile/Standard_User",
            "jira:group/jira-software-users",
        ],
        &[("github:org/member", 0.5)],
    ),
    r(
        "sales-ops",
        "Sales operations",
        "Runs the sales process and order entry",
        &[
            "salesforce:profile/Standard_User",
            "salesforce:permset/Export_Reports",
            "erp:role/Sales_Order_Entry",
        ],
        &[],
    ),
    r(
        "sales-manager",
        "Sales manager",
        "Leads sales teams",
        &[
            "salesforce:profile/Sales_Manager",
            "salesforce:permset/Export_Reports",
        ],
        &[],
    ),
    r(
        "support-agent",
        "Support agent",
        "Answers customer cases",
        &[
            "salesforce:profile/Support_Agent",
            "jira:group/jira-servicedesk-agents",
        ],
        &[("jira:group/jira-software-users", 0.3)],
    ),
    r(
        "support-ops",
        "Support operations",
        "Runs support tooling and reporting",
        &[
            "salesforce:profile/Support_Agent",
            "salesforce:permset/Export_Reports",
            "jira:group/jira-servicedesk-agents",
            "jira:group/project-admins",
        ],
        &[],
    ),
    r(
        "support-manager",
        "Support manager",
        "Leads support teams",
        &[
            "salesforce:profile/Support_Agent",
            "salesforce:permset/Export_Reports",
            "jira:group/jira-servicedesk-agents",
            "jira:group/project-admins",
        ],
        &[],
    ),
    r(
        "marketing",
        "Marketing",
        "Marketing campaigns and content",
        &[
            "salesforce:profile/Standard_User",
            "jira:group/jira-software-users",
        ],
        &[("salesforce:permset/Export_Reports", 0.3)],
    ),
    r(
        "marketing-ops",
        "Marketing operations",
        "Marketing systems and reporting",
        &[
            "salesforce:profile/Standard_User",
            "salesforce:permset/Export_Reports",
            "jira:group/jira-software-users",
        ],
        &[],
    ),
    r(
        "ap-clerk",
        "Accounts payable clerk",
        "Enters vendor invoices",
        &[
            "erp:role/AP_Clerk",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
            "expenses:role/finance_review",
        ],
        &[("gl:role/GL_Reporting", 0.3)],
    ),
    r(
        "ap-manager",
        "Accounts payable manager",
        "Approves invoices and releases payments",
        &[
            "erp:role/AP_Approver",
            "erp:role/Payment_Release",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
            "expenses:role/finance_review",
        ],
        &[],
    ),
    r(
        "treasury",
        "Treasury",
        "Manages cash and bank communication",
        &[
            "erp:role/Treasury_Bank_Comm",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
        ],
        &[],
    ),
    r(
        "financial-analyst",
        "Financial analyst",
        "Planning and analysis",
        &[
            "gl:role/GL_View",
            "gl:role/GL_Reporting",
            "erp:role/ERP_Display",
            "aws:permset/Billing",
        ],
        &[("salesforce:profile/Standard_User", 0.3)],
    ),
    r(
        "finance-systems",
        "Finance systems",
        "Administers the expenses system",
        &[
            "expenses:role/admin",
            "erp:role/ERP_Display",
            "gl:role/GL_View",
        ],
        &[],
    ),
    r(
        "controller",
        "Financial controller",
        "Approves journals and closes periods",
        &[
            "gl:role/JE_Approve",
            "gl:role/Period_Close",
            "gl:role/GL_View",
            "gl:role/GL_Reporting",
            "erp:role/ERP_Display",
        ],
        &[],
    ),
    r(
        "finance-manager",
        "Finance manager",
        "Leads finance teams",
        &[
            "gl:role/GL_View",
            "gl:role/GL_Reporting",
            "erp:role/ERP_Display",
            "aws:permset/Billing",
        ],
        &[],
    ),
    r(
        "accountant",
        "Accountant",
        "Books journal entries",
        &[
            "gl:role/JE_Create",
            "gl:role/GL_View",
            "erp:role/ERP_Display",
        ],
        &[("gl:role/GL_Reporting", 0.4)],
    ),
    r(
        "accounting-manager",
        "Accounting manager",
        "Leads accounting and approves journals",
        &[
            "gl:role/JE_Approve",
            "gl:role/GL_View",
            "gl:role/GL_Reporting",
            "erp:role/ERP_Display",
        ],
        &[],
    ),
    r(
        "gl-admin",
        "GL administrator",
        "Administers the general ledger",
        &["gl:role/GL_Admin", "gl:role/GL_View"],
        &[],
    ),
    r(
        "hr-partner",
        "HR business partner",
        "Supports an organisation in HR matters",
        &["hris:sg/HR_Partner"],
        &[("payroll:role/Payroll_Viewer", 0.3)],
    ),
    r(
        "recruiter",
        "Recruiter",
        "Hires people",
        &["hris:sg/Recruiting"],
        &[("jira:group/jira-software-users", 0.3)],
    ),
    r(
        "payroll-specialist",
        "Payroll specialist",
        "Runs payroll",
        &["payroll:role/Run_Payroll", "payroll:role/Payroll_Viewer"],
        &[],
    ),
    r(
        "compensation",
        "Compensation analyst",
        "Maintains pay data",
        &["hris:sg/Edit_Pay_Data", "payroll:role/Payroll_Viewer"],
        &[],
    ),
    r(
        "hris-admin",
        "HRIS administrator",
        "Administers the HRIS",
        &["hris:sg/Security_Admin", "hris:sg/HR_Partner"],
        &[],
    ),
    r(
        "it-support",
        "IT support",
        "Helps colleagues with IT",
        &[
            "ad:group/Helpdesk_Operators",
            "jira:group/jira-servicedesk-agents",
            "jira:group/jira-software-users",
        ],
        &[("aws:permset/ReadOnly", 0.3)],
    ),
    r(
        "sysadmin",
        "Systems administrator",
        "Administers servers",
        &[
            "ad:group/Server_Admins",
            "jira:group/jira-servicedesk-agents",
            "aws:permset/ReadOnly",
        ],
        &[],
    ),
    r(
        "directory-admin",
        "Directory administrator",
        "Administers the directory",
        &[
            "ad:group/Domain_Admins",
            "ad:group/Server_Admins",
            "jira:group/jira-servicedesk-agents",
        ],
        &[],
    ),
    r(
        "cloud-admin",
        "Cloud administrator",
        "Administers the AWS organisation",
        &[
            "aws:permset/AdministratorAccess",
            "aws:permset/ReadOnly",
            "github:org/member",
            "jira:group/jira-software-users",
        ],
        &[],
    ),
    r(
        "devtools-admin",
        "Developer tools administrator",
        "Administers GitHub, Jira and Slack",
        &[
            "github:org/owner",
            "github:org/member",
            "jira:group/site-admins",
            "slack:workspace/admin",
        ],
        &[],
    ),
    r(
        "erp-admin",
        "ERP basis administrator",
        "Administers the ERP",
        &["erp:role/Basis_Admin", "erp:role/ERP_Display"],
        &[],
    ),
    r(
        "crm-admin",
        "Salesforce administrator",
        "Administers Salesforce",
        &[
            "salesforce:profile/System_Administrator",
            "salesforce:profile/Standard_User",
        ],
        &[],
    ),
    r(
        "it-manager",
        "IT manager",
        "Leads IT teams",
        &[
            "jira:group/jira-servicedesk-agents",
            "jira:group/project-admins",
            "ad:group/Helpdesk_Operators",
        ],
        &[],
    ),
    r(
        "legal",
        "Legal",
        "Legal counsel and contracts",
        &["salesforce:profile/Standard_User"],
        &[("jira:group/jira-software-users", 0.3)],
    ),
    r(
        "procurement",
        "Procurement",
        "Buys goods and services and maintains vendors",
        &[
            "erp:role/PO_Create",
            "erp:role/Vendor_Master_Maintain",
            "erp:role/ERP_Display",
        ],
        &[],
    ),
    r(
        "procurement-manager",
        "Procurement manager",
        "Approves purchase orders",
        &["erp:role/PO_Approve", "erp:role/ERP_Display"],
        &[],
    ),
    r(
        "operations",
        "Operations",
        "Runs business operations",
        &["erp:role/ERP_Display", "jira:group/jira-software-users"],
        &[("salesforce:profile/Standard_User", 0.3)],
    ),
    r(
        "facilities",
        "Facilities",
        "Runs the offices",
        &["jira:group/jira-servicedesk-agents"],
        &[],
    ),
];

/// A template of non-human identities.
pub(crate) struct NhiTemplate {
    pub prefix: &'static str,
    pub kind: IdentityKind,
    pub name: &'static str,
    pub purpose: &'static str,
    pub ents: &'static [&'static str],
}

pub(crate) const NHI_TEMPLATES: &[NhiTemplate] = &[
    NhiTemplate {
        prefix: "svc-backup",
        kind: IdentityKind::ServiceAccount,
        name: "Database backup",
        purpose: "Nightly backups of the production database to S3",
        ents: &["aws:permset/Developer", "proddb:role/readonly"],
    },
    NhiTemplate {
        prefix: "svc-deploy",
        kind: IdentityKind::ServiceAccount,
        name: "Deployment pipeline",
        purpose: "CI/CD deployments from GitHub Actions",
        ents: &["github:team/engineering", "aws:permset/Developer"],
    },
    NhiTemplate {
        prefix: "svc-erp-gl",
        kind: IdentityKind::ServiceAccount,
        name: "ERP to GL interface",
        purpose: "Posts ERP sub-ledger totals to the general ledger",
        ents: &["erp:role/ERP_Display", "gl:role/JE_Create"],
    },
    NhiTemplate {
        prefix: "svc-crm-sync",
        kind: IdentityKind::ServiceAccount,
        name: "CRM sync",
        purpose: "Syncs customer data from production to Salesforce",
        ents: &["proddb:role/readonly", "salesforce:profile/Standard_User"],
    },
    NhiTemplate {
        prefix: "svc-app",
        kind: IdentityKind::ServiceAccount,
        name: "Application database user",
        purpose: "The customer platform's connection to its database",
        ents: &["proddb:role/app_rw"],
    },
    NhiTemplate {
        prefix: "svc-monitoring",
        kind: IdentityKind::ServiceAccount,
        name: "Monitoring agent",
        purpose: "Infrastructure monitoring and alerting",
        ents: &["aws:permset/ReadOnly"],
    },
    NhiTemplate {
        prefix: "key-jira-bot",
        kind: IdentityKind::ApiKey,
        name: "Jira release bot",
        purpose: "Writes release notes to Jira from GitHub",
        ents: &["jira:group/jira-software-users", "github:org/member"],
    },
    NhiTemplate {
        prefix: "key-card-import",
        kind: IdentityKind::ApiKey,
        name: "Card transaction import",
        purpose: "Imports corporate card transactions into expenses",
        ents: &["expenses:role/finance_review"],
    },
    NhiTemplate {
        prefix: "tok-slack-alerts",
        kind: IdentityKind::Token,
        name: "Slack alert bot",
        purpose: "Posts monitoring alerts to Slack",
        ents: &["slack:workspace/member"],
    },
    NhiTemplate {
        prefix: "tok-ci-packages",
        kind: IdentityKind::Token,
        name: "Package publishing token",
        purpose: "Publishes packages from CI",
        ents: &["github:team/engineering"],
    },
    NhiTemplate {
        prefix: "cert-payments-api",
        kind: IdentityKind::Certificate,
        name: "Payments API client certificate",
        purpose: "mTLS client certificate for the payment provider API",
        ents: &["aws:permset/ReadOnly"],
    },
    NhiTemplate {
        prefix: "svc-ldap-sync",
        kind: IdentityKind::ServiceAccount,
        name: "Directory sync",
        purpose: "Reads directory groups for SSO provisioning",
        ents: &["ad:group/Service_Accounts"],
    },
];

/// An entitlement of the catalogue.
pub(crate) struct Ent {
    pub sys: u8,
    pub id: String,
    pub name: String,
    pub description: String,
    pub privileged: bool,
    pub risk: RiskLevel,
}

/// What a birthright rule looks at.
pub(crate) enum Cond {
    Everyone,
    Employment(&'static str),
    Depts(Vec<u8>),
    Location(u8),
    Managers,
}

/// A birthright role.
pub(crate) struct Birthright {
    pub key: String,
    pub name: String,
    pub description: String,
    pub cond: Cond,
    pub ents: Vec<u16>,
    /// Department whose head owns the rule.
    pub owner_dept: u8,
}

/// Which part of the organisation a title sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Ic,
    Manager,
    /// Director and above, by depth (1 = director).
    Senior(u8),
    Head,
    Ceo,
}

/// A title, with its department and job role.
pub(crate) struct Title {
    pub name: String,
    pub dept: u8,
    pub level: &'static str,
    pub role: u16,
    pub tier: Tier,
    pub weight: u32,
}

/// A job role resolved to entitlement indices.
pub(crate) struct JobRole {
    pub def: &'static JobRoleDef,
    pub ents: Vec<u16>,
    pub requestables: Vec<(u16, f64)>,
    pub privileged: bool,
    /// Department whose head owns the role.
    pub owner_dept: u8,
}

/// The whole catalogue, with entitlement references resolved to indices.
pub(crate) struct Catalog {
    pub ents: Vec<Ent>,
    pub ent_index: HashMap<String, u16>,
    pub titles: Vec<Title>,
    pub roles: Vec<JobRole>,
    pub birthrights: Vec<Birthright>,
    /// Per department: IC titles, manager titles, senior titles by depth (1..=4).
    pub dept_ics: Vec<Vec<u16>>,
    pub dept_managers: Vec<Vec<u16>>,
    pub dept_seniors: Vec<Vec<u16>>,
    pub head_titles: Vec<u16>,
    /// SoD pairs resolved to entitlement indices.
    pub sod: Vec<(u16, u16)>,
}

impl Catalog {
    pub fn build() -> Result<Catalog, String> {
        let mut ents = Vec::new();
        for &(sys, id, name, description, privileged, risk) in ENTS {
            ents.push(Ent {
                sys,
                id: id.into(),
                name: name.into(),
                description: description.into(),
                privileged,
                risk,
            });
        }
        for d in DEPTS {
            ents.push(Ent {
                sys: AD,
                id: format!("group/Dept_{}", d.group),
                name: format!("{} department", d.name),
                description: format!("Everyone in {}", d.name),
                privileged: false,
                risk: RiskLevel::Low,
            });
            ents.push(Ent {
                sys: SLACK,
                id: format!("channel/{}", d.slug),
                name: format!("#{}", d.slug),
                description: format!("Channel of the {} department", d.name),
                privileged: false,
                risk: RiskLevel::Low,
            });
        }
        for &(name, slug, _, office) in LOCATIONS {
            if office {
                ents.push(Ent {
                    sys: AD,
                    id: format!("group/Print_{slug}"),
                    name: format!("Printers {name}"),
                    description: format!("Printers of the {name} office"),
                    privileged: false,
                    risk: RiskLevel::Low,
                });
            }
        }
        let mut ent_index = HashMap::new();
        for (i, e) in ents.iter().enumerate() {
            let key = format!("{}:{}", SYSTEMS[e.sys as usize].key, e.id);
            if ent_index.insert(key.clone(), i as u16).is_some() {
                return Err(format!("entitlement {key} is defined twice"));
            }
        }
        let find = |r: &str| -> Result<u16, String> {
            ent_index
                .get(r)
                .copied()
                .ok_or_else(|| format!("unknown entitlement {r}"))
        };

        // Job roles.
        let mut roles = Vec::new();
        for def in JOB_ROLES {
            let ents_of = def
                .ents
                .iter()
                .map(|e| find(e))
                .collect::<Result<Vec<_>, _>>()?;
            let requestables = def
                .requestables
                .iter()
                .map(|(e, f)| find(e).map(|i| (i, *f)))
                .collect::<Result<Vec<_>, _>>()?;
            let privileged = ents_of.iter().any(|&e| ents[e as usize].privileged);
            roles.push(JobRole {
                def,
                ents: ents_of,
                requestables,
                privileged,
                owner_dept: EXEC,
            });
        }
        let role_of = |key: &str| -> Result<u16, String> {
            JOB_ROLES
                .iter()
                .position(|r| r.key == key)
                .map(|p| p as u16)
                .ok_or_else(|| format!("unknown job role {key}"))
        };

        // Titles.
        let mut titles = Vec::new();
        let mut dept_ics = Vec::new();
        let mut dept_managers = Vec::new();
        let mut dept_seniors = Vec::new();
        let mut head_titles = Vec::new();
        for (di, d) in DEPTS.iter().enumerate() {
            let di = di as u8;
            let mut ics = Vec::new();
            for s in d.ics {
                ics.push(titles.len() as u16);
                titles.push(Title {
                    name: s.title.into(),
                    dept: di,
                    level: s.level,
                    role: role_of(s.role)?,
                    tier: Tier::Ic,
                    weight: s.weight,
                });
            }
            let mut mgrs = Vec::new();
            for s in d.managers {
                mgrs.push(titles.len() as u16);
                titles.push(Title {
                    name: s.title.into(),
                    dept: di,
                    level: s.level,
                    role: role_of(s.role)?,
                    tier: Tier::Manager,
                    weight: s.weight,
                });
            }
            let mut seniors = Vec::new();
            if di != EXEC {
                let ladder = [
                    ("Director of", "D1"),
                    ("Senior Director of", "D2"),
                    ("VP of", "VP"),
                    ("SVP of", "SVP"),
                ];
                for (depth, (prefix, level)) in ladder.iter().enumerate() {
                    seniors.push(titles.len() as u16);
                    titles.push(Title {
                        name: format!("{prefix} {}", d.name),
                        dept: di,
                        level,
                        role: role_of(d.senior_role)?,
                        tier: Tier::Senior(depth as u8 + 1),
                        weight: 1,
                    });
                }
            }
            dept_ics.push(ics);
            dept_managers.push(mgrs);
            dept_seniors.push(seniors);
        }
        // Heads sit in the Executive department.
        for (di, d) in DEPTS.iter().enumerate() {
            head_titles.push(titles.len() as u16);
            titles.push(Title {
                name: d.head.into(),
                dept: EXEC,
                level: "C",
                role: role_of("executive")?,
                tier: if di == EXEC as usize {
                    Tier::Ceo
                } else {
                    Tier::Head
                },
                weight: 1,
            });
        }
        // Role owners: the head of the department the role's first title belongs to.
        for (ri, role) in roles.iter_mut().enumerate() {
            if let Some(t) = titles
                .iter()
                .find(|t| t.role as usize == ri && t.tier != Tier::Head && t.tier != Tier::Ceo)
            {
                role.owner_dept = t.dept;
            }
        }

        // Birthright rules.
        let mut birthrights = Vec::new();
        let mut br = |key: String,
                      name: String,
                      description: String,
                      cond: Cond,
                      list: &[String],
                      owner_dept: u8|
         -> Result<(), String> {
            let e = list
                .iter()
                .map(|e| find(e))
                .collect::<Result<Vec<_>, _>>()?;
            birthrights.push(Birthright {
                key,
                name,
                description,
                cond,
                ents: e,
                owner_dept,
            });
            Ok(())
        };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        br(
            "all-staff".into(),
            "All staff".into(),
            "What every person working for the company gets on day one".into(),
            Cond::Everyone,
            &s(&[
                "ad:group/All_Staff",
                "ad:group/VPN_Users",
                "ad:group/WiFi_Corporate",
                "slack:workspace/member",
                "slack:channel/general",
                "slack:channel/announcements",
                "hris:sg/Self_Service",
                "expenses:role/submitter",
                "expenses:role/travel_booking",
                "jira:group/jira-servicedesk-customers",
            ]),
            IT,
        )?;
        br(
            "employees".into(),
            "Employees".into(),
            "Licences and benefits of employees".into(),
            Cond::Employment("employee"),
            &s(&["ad:group/M365_E3", "hris:sg/Benefits"]),
            HR,
        )?;
        br(
            "contractors".into(),
            "Contractors".into(),
            "Licences of contractors".into(),
            Cond::Employment("contractor"),
            &s(&["ad:group/M365_F3"]),
            HR,
        )?;
        br(
            "people-managers".into(),
            "People managers".into(),
            "Approvals for people with direct reports".into(),
            Cond::Managers,
            &s(&["expenses:role/approver", "hris:sg/Manager_Self_Service"]),
            HR,
        )?;
        for (di, d) in DEPTS.iter().enumerate() {
            br(
                format!("dept-{}", d.slug),
                format!("{} department", d.name),
                format!("Department group and channel of {}", d.name),
                Cond::Depts(vec![di as u8]),
                &[
                    format!("ad:group/Dept_{}", d.group),
                    format!("slack:channel/{}", d.slug),
                ],
                di as u8,
            )?;
        }
        br(
            "finance-share".into(),
            "Finance share".into(),
            "The finance file share for Finance and Accounting".into(),
            Cond::Depts(vec![FINANCE, ACCOUNTING]),
            &s(&["ad:group/Finance_Share"]),
            FINANCE,
        )?;
        br(
            "hr-confidential".into(),
            "HR confidential".into(),
            "Confidential HR documents for the HR department".into(),
            Cond::Depts(vec![HR]),
            &s(&["ad:group/HR_Confidential"]),
            HR,
        )?;
        br(
            "legal-share".into(),
            "Legal share".into(),
            "Contracts share for the Legal department".into(),
            Cond::Depts(vec![LEGAL]),
            &s(&["ad:group/Legal_Share"]),
            LEGAL,
        )?;
        for (li, &(name, slug, _, office)) in LOCATIONS.iter().enumerate() {
            if office {
                br(
                    format!("site-{}", slug.to_ascii_lowercase()),
                    format!("{name} office"),
                    format!("Printers of the {name} office"),
                    Cond::Location(li as u8),
                    &[format!("ad:group/Print_{slug}")],
                    IT,
                )?;
            }
        }

        let mut sod = Vec::new();
        for (_, left, right) in crate::SOD_PAIRS {
            sod.push((find(left)?, find(right)?));
        }
        Ok(Catalog {
            ents,
            ent_index,
            titles,
            roles,
            birthrights,
            dept_ics,
            dept_managers,
            dept_seniors,
            head_titles,
            sod,
        })
    }

    /// The entitlement index of `system:native_id`.
    pub fn ent(&self, r: &str) -> Option<u16> {
        self.ent_index.get(r).copied()
    }

    /// Whether a set of entitlements contains both sides of an SoD pair.
    pub fn has_sod(&self, set: &[u16]) -> bool {
        self.sod
            .iter()
            .any(|(a, b)| set.contains(a) && set.contains(b))
    }

    /// Whether a grant of this entitlement lives on a person's separate admin account.
    pub fn on_admin_account(&self, ent: u16) -> bool {
        let e = &self.ents[ent as usize];
        e.sys == AD && e.privileged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_resolves_and_roles_are_sod_free() {
        let cat = Catalog::build().unwrap();
        assert_eq!(SYSTEMS.len(), 12);
        assert_eq!(DEPTS.iter().map(|d| d.share).sum::<u32>(), 100);
        for role in &cat.roles {
            let mut set = role.ents.clone();
            set.extend(role.requestables.iter().map(|r| r.0));
            assert!(!cat.has_sod(&set), "{}", role.def.key);
            for (e, _) in &role.requestables {
                assert!(!cat.ents[*e as usize].privileged, "{}", role.def.key);
                assert!(!role.ents.contains(e));
            }
        }
        // Birthright entitlements are never part of a job role.
        for b in &cat.birthrights {
            for e in &b.ents {
                assert!(cat.roles.iter().all(|r| !r.ents.contains(e)));
                assert!(!cat.ents[*e as usize].privileged);
            }
        }
        // Titles are unique, so a peer group (department + title) is a title.
        let mut names: Vec<&str> = cat.titles.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
