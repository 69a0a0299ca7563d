/** Strongroom's mark: a vault door. Drawn here, as SVG elements (no image request, no data: URL). */
export function Logo({ className }: { className?: string }) {
  return (
    <svg className={className} viewBox="0 0 32 32" aria-hidden="true">
      <rect x="3" y="5" width="26" height="22" rx="4" fill="#1d3557" />
      <circle cx="16" cy="16" r="6" fill="none" stroke="#e9c46a" strokeWidth="2.5" />
      <path d="M16 10v3M16 19v3M10 16h3M19 16h3" stroke="#e9c46a" strokeWidth="2" />
    </svg>
  );
}
