import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed operations from the schema the server exports. The output is committed;
// `npm run codegen` regenerates it and `npm run codegen:check` fails when it is stale.
const config: CodegenConfig = {
  schema: '../graphql_schema/schema.graphql',
  documents: ['src/graphql/**/*.graphql'],
  generates: {
    'src/gql/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
        strictScalars: true,
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
        skipTypename: false,
        dedupeFragments: true,
        nonOptionalTypename: true,
      },
    },
  },
  hooks: {},
};

export default config;
