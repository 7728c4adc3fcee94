# The seckill API, outbox relay and inventory consumer in one container (serve --role all), for docker-compose.yml.
# Every layer works with only what it has copied: test/build/dockerfile.test.ts replays the install layer in a
# folder holding just the files its COPY lines name.
FROM node:20-bookworm-slim

# Prisma's CLI probes for OpenSSL to pick its engine build; without it migrate deploy warns and may guess wrong.
RUN apt-get update \
  && apt-get install -y --no-install-recommends openssl ca-certificates \
  && rm -rf /var/lib/apt/lists/*

RUN mkdir /app && chown node:node /app
WORKDIR /app
USER node

# Dependencies first, so editing the source does not reinstall them. npm ci runs the postinstall
# `prisma generate`, which reads prisma.config.ts and the schema (the config names the offline schema engine), and
# tsconfig.json: without it the generator writes imports ending in .ts, which the compiled client cannot load.
COPY --chown=node:node package.json package-lock.json prisma.config.ts tsconfig.json ./
COPY --chown=node:node prisma/schema.prisma prisma/schema.prisma
COPY --chown=node:node prisma/engine prisma/engine
RUN npm ci --no-audit --no-fund

# The rest of the source (src/generated is in .dockerignore: the client generated above stays), compiled to dist/;
# then the compilers and test tools leave the image.
COPY --chown=node:node . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

ENV HOST=0.0.0.0 \
    PORT=3000 \
    NODE_ENV=production
EXPOSE 3000

HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

# serve applies the migrations at start (deploy is idempotent, creates the database if missing). node is the
# process that receives SIGTERM (docker-compose adds an init as PID 1).
CMD ["node", "dist/main.js", "serve", "--role", "all"]
