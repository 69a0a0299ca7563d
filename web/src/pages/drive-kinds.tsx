/**
 * What the Mount New Drive wizard asks for each kind of drive, with where to find each value in
 * the provider's console. Field ids are the API's names (`config.*`, `credentials.*`).
 */
import type { DriveKind } from '../../../src/contracts/index.ts';

export interface KindField {
  /** `config.bucket`, `credentials.accountKey`, … */
  key: string;
  label: string;
  help: string;
  secret?: boolean;
  optional?: boolean;
  multiline?: boolean;
  checkbox?: boolean;
  placeholder?: string;
}

export interface CredentialVariant {
  id: string;
  label: string;
  fixed: Record<string, string>;
  fields: KindField[];
}

export interface KindSpec {
  kind: DriveKind;
  title: string;
  blurb: string;
  config: KindField[];
  credentials: CredentialVariant[];
}

const prefix: KindField = {
  key: 'config.prefix',
  label: 'Folder prefix',
  help: 'Optional: keep Strongroom objects under this folder of the bucket, e.g. strongroom/.',
  optional: true,
};

export const KINDS: KindSpec[] = [
  {
    kind: 's3',
    title: 'Amazon S3',
    blurb: 'An S3 bucket, or any S3-compatible store (MinIO, Ceph, Wasabi…).',
    config: [
      {
        key: 'config.bucket',
        label: 'Bucket',
        help: 'AWS console → S3 → Buckets: the bucket name as listed (not its ARN).',
        placeholder: 'my-data-bucket',
      },
      {
        key: 'config.region',
        label: 'Region',
        help: 'AWS console → S3 → the bucket → Properties → AWS Region, e.g. eu-west-1.',
        placeholder: 'us-east-1',
      },
      {
        key: 'config.endpoint',
        label: 'Endpoint URL',
        help: 'Only for S3-compatible stores: the service URL your provider gives. Leave empty for AWS.',
        optional: true,
        placeholder: 'https://s3.example.com',
      },
      prefix,
      {
        key: 'config.pathStyle',
        label: 'Path-style addressing',
        help: 'Needed by most S3-compatible stores; leave off for AWS.',
        checkbox: true,
        optional: true,
      },
    ],
    credentials: [
      {
        id: 'keys',
        label: 'Access key',
        fixed: { provider: 's3' },
        fields: [
          {
            key: 'credentials.accessKeyId',
            label: 'Access key ID',
            help: 'AWS console → IAM → Users → the user → Security credentials → Access keys.',
            placeholder: 'AKIA…',
          },
          {
            key: 'credentials.secretAccessKey',
            label: 'Secret access key',
            help: 'Shown once by AWS when the access key is created. Stored in the vault, never shown again.',
            secret: true,
          },
        ],
      },
    ],
  },
  {
    kind: 'azure',
    title: 'Azure Blob Storage',
    blurb: 'A container in an Azure storage account.',
    config: [
      {
        key: 'config.container',
        label: 'Container',
        help: 'Azure portal → Storage accounts → the account → Data storage → Containers.',
        placeholder: 'datasets',
      },
      {
        key: 'config.endpoint',
        label: 'Blob service endpoint',
        help: 'Optional: defaults to https://<account>.blob.core.windows.net. Azure portal → the account → Settings → Endpoints.',
        optional: true,
      },
      prefix,
    ],
    credentials: [
      {
        id: 'account-key',
        label: 'Account key',
        fixed: { provider: 'azure', kind: 'account-key' },
        fields: [
          {
            key: 'credentials.accountName',
            label: 'Storage account name',
            help: 'Azure portal → Storage accounts: the account name (3–24 lower-case letters and digits).',
          },
          {
            key: 'credentials.accountKey',
            label: 'Account key',
            help: 'Azure portal → the account → Security + networking → Access keys → key1 → Show. Stored in the vault, never shown again.',
            secret: true,
          },
        ],
      },
      {
        id: 'connection-string',
        label: 'Connection string',
        fixed: { provider: 'azure', kind: 'connection-string' },
        fields: [
          {
            key: 'credentials.connectionString',
            label: 'Connection string',
            help: 'Azure portal → the account → Access keys → Connection string → Show.',
            secret: true,
          },
        ],
      },
      {
        id: 'sas',
        label: 'SAS token',
        fixed: { provider: 'azure', kind: 'sas' },
        fields: [
          {
            key: 'credentials.accountName',
            label: 'Storage account name',
            help: 'Azure portal → Storage accounts: the account name.',
          },
          {
            key: 'credentials.sasToken',
            label: 'SAS token',
            help: 'Azure portal → the account → Shared access signature: allow Blob, Container + Object, read/write/delete/list.',
            secret: true,
          },
        ],
      },
    ],
  },
  {
    kind: 'gcs',
    title: 'Google Cloud Storage',
    blurb: 'A Cloud Storage bucket, with a service-account key or an HMAC key.',
    config: [
      {
        key: 'config.bucket',
        label: 'Bucket',
        help: 'Google Cloud console → Cloud Storage → Buckets: the bucket name.',
      },
      {
        key: 'config.endpoint',
        label: 'Endpoint URL',
        help: 'Optional: only for a private or emulated endpoint.',
        optional: true,
      },
      prefix,
    ],
    credentials: [
      {
        id: 'service-account',
        label: 'Service-account key',
        fixed: { provider: 'gcs', kind: 'service-account' },
        fields: [
          {
            key: 'credentials.serviceAccount',
            label: 'Key file (JSON)',
            help: 'Google Cloud console → IAM & Admin → Service accounts → the account → Keys → Add key → JSON. Paste the whole file.',
            secret: true,
            multiline: true,
          },
        ],
      },
      {
        id: 'hmac',
        label: 'HMAC key',
        fixed: { provider: 'gcs', kind: 'hmac' },
        fields: [
          {
            key: 'credentials.accessId',
            label: 'Access ID',
            help: 'Google Cloud console → Cloud Storage → Settings → Interoperability → Access keys.',
          },
          {
            key: 'credentials.secret',
            label: 'Secret',
            help: 'Shown once when the HMAC key is created.',
            secret: true,
          },
        ],
      },
    ],
  },
  {
    kind: 'local',
    title: 'Local disk',
    blurb: "A directory under this server's local drive root (for single-machine installations).",
    config: [
      {
        key: 'config.directory',
        label: 'Directory',
        help: "Optional: a folder under the server's local drive root; defaults to the drive's name.",
        optional: true,
      },
    ],
    credentials: [],
  },
];

export const kindSpec = (k: DriveKind) => KINDS.find((x) => x.kind === k)!;

/** The provider logos, drawn as simple SVG marks (not the vendors' artwork). */
export function KindLogo({ kind, size = 40 }: { kind: DriveKind; size?: number }) {
  const box = { width: size, height: size, viewBox: '0 0 40 40', 'aria-hidden': true } as const;
  switch (kind) {
    case 's3':
      return (
        <svg {...box}>
          <path d="M8 10h24l-3 22a3 3 0 0 1-3 2.6H14A3 3 0 0 1 11 32z" fill="#e8891c" />
          <ellipse cx="20" cy="10" rx="12" ry="3.5" fill="#f6b26b" />
        </svg>
      );
    case 'azure':
      return (
        <svg {...box}>
          <path d="M17 6h8L14 34H5z" fill="#0a6ed1" />
          <path d="M22 14l13 20H16l10-4z" fill="#39a0ed" />
        </svg>
      );
    case 'gcs':
      return (
        <svg {...box}>
          <path d="M20 4l14 8v16l-14 8-14-8V12z" fill="#4285f4" />
          <rect x="13" y="15" width="14" height="4" rx="1" fill="#fff" />
          <rect x="13" y="21" width="14" height="4" rx="1" fill="#d2e3fc" />
        </svg>
      );
    default:
      return (
        <svg {...box}>
          <rect x="6" y="9" width="28" height="22" rx="3" fill="#5b6675" />
          <circle cx="28" cy="25" r="2" fill="#9ee6b0" />
          <rect x="10" y="13" width="20" height="3" rx="1" fill="#8592a3" />
        </svg>
      );
  }
}
