/** Navigation icons, drawn as SVG elements (bundled; nothing loaded from elsewhere). */
const common = {
  viewBox: '0 0 24 24',
  fill: 'none',
  stroke: 'currentColor',
  strokeWidth: 1.8,
  strokeLinecap: 'round' as const,
  strokeLinejoin: 'round' as const,
  'aria-hidden': true,
};

export const icons = {
  drives: (c: string | undefined) => (
    <svg className={c} {...common}>
      <rect x="3" y="4" width="18" height="7" rx="2" />
      <rect x="3" y="13" width="18" height="7" rx="2" />
      <path d="M7 7.5h.01M7 16.5h.01" />
    </svg>
  ),
  datasets: (c: string | undefined) => (
    <svg className={c} {...common}>
      <ellipse cx="12" cy="5.5" rx="8" ry="2.5" />
      <path d="M4 5.5v13c0 1.4 3.6 2.5 8 2.5s8-1.1 8-2.5v-13M4 12c0 1.4 3.6 2.5 8 2.5s8-1.1 8-2.5" />
    </svg>
  ),
  query: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="10.5" cy="10.5" r="6" />
      <path d="M15 15l5.5 5.5M8 9h5M8 12h3" />
    </svg>
  ),
  vault: (c: string | undefined) => (
    <svg className={c} {...common}>
      <rect x="4" y="10" width="16" height="11" rx="2" />
      <path d="M8 10V7a4 4 0 0 1 8 0v3M12 14v3" />
    </svg>
  ),
  audit: (c: string | undefined) => (
    <svg className={c} {...common}>
      <path d="M9 4h6l1 2h3v15H5V6h3z" />
      <path d="M9 12l2 2 4-4" />
    </svg>
  ),
  security: (c: string | undefined) => (
    <svg className={c} {...common}>
      <path d="M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z" />
      <path d="M9 12l2 2 4-4" />
    </svg>
  ),
  tasks: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="12" cy="12" r="8.5" />
      <path d="M12 7.5V12l3 2" />
    </svg>
  ),
  users: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20c.8-3.5 3.4-5.5 6.5-5.5s5.7 2 6.5 5.5M16 4.5a3.5 3.5 0 0 1 0 7M18 14.5c1.9.6 3.1 2.5 3.5 5.5" />
    </svg>
  ),
  sso: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="8" cy="12" r="3.5" />
      <path d="M11.5 12H21M18 12v3M15 12v2" />
    </svg>
  ),
  backups: (c: string | undefined) => (
    <svg className={c} {...common}>
      <path d="M4 7h16v12H4zM4 7l2-3h12l2 3M9 12l3 3 3-3M12 9v6" />
    </svg>
  ),
  retention: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="12" cy="13" r="7.5" />
      <path d="M12 9v4l2.5 2.5M9 3h6" />
    </svg>
  ),
  rules: (c: string | undefined) => (
    <svg className={c} {...common}>
      <path d="M12 3l8 3v6c0 4.5-3.4 8-8 9-4.6-1-8-4.5-8-9V6z" />
      <path d="M9 10h6M9 14h4" />
    </svg>
  ),
  policies: (c: string | undefined) => (
    <svg className={c} {...common}>
      <path d="M2.5 12s3.5-6 9.5-6 9.5 6 9.5 6-3.5 6-9.5 6-9.5-6-9.5-6z" />
      <path d="M4 20L20 4" />
    </svg>
  ),
  account: (c: string | undefined) => (
    <svg className={c} {...common}>
      <circle cx="12" cy="8" r="4" />
      <path d="M4 21c1-4 4.2-6 8-6s7 2 8 6" />
    </svg>
  ),
};
